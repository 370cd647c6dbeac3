//! Integration tests: each starts the real server on port 0.

mod support;

mod challenge;
mod cli;
mod client;
mod control;
mod conventions;
mod diagnosis;
mod flow;
mod library;
mod limits;
mod openapi;
mod persona_sdk;
mod properties;
mod readme;
mod report;
mod scenario_files;
mod scenarios;
mod trust;
mod vectors;
