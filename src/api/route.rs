//! The endpoints of Persona's API that persona-mock serves, by name. The
//! router (`http::router`) gives each its path, methods, auth policy and
//! handler; scenarios name them in `when.endpoint`.

/// One endpoint of Persona's API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST /api/privacy/v1/relays/challenge`.
    Challenge,
    /// `POST /api/privacy/v1/relays`.
    CreateRelay,
    /// `POST /api/v1/privacy-passes`.
    Issue,
    /// `POST /api/privacy/v1/relays/{relay-token}/generate-claim`.
    GenerateClaim,
}

impl Route {
    /// Every endpoint, in the router's order.
    pub const ALL: [Route; 4] = [
        Route::Challenge,
        Route::CreateRelay,
        Route::Issue,
        Route::GenerateClaim,
    ];

    /// The endpoint's name in scenario files (`when.endpoint`).
    pub fn name(self) -> &'static str {
        match self {
            Route::Challenge => "challenge",
            Route::CreateRelay => "create-relay",
            Route::Issue => "issue",
            Route::GenerateClaim => "generate-claim",
        }
    }

    /// The endpoint called `name`.
    pub fn from_name(name: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The names of every endpoint, joined for messages.
    pub fn names() -> String {
        Route::ALL.map(Route::name).join(", ")
    }
}
