//! RFC 9577 §2.2 Tokens, RFC 9578 TokenRequests, and the `PrivateToken`
//! authorization header, on bytes and strings only.

use super::TokenType;
use std::fmt;

/// Length of a token nonce.
pub const NONCE_LEN: usize = 32;
/// Length of the token input: type, nonce, challenge digest, key id.
pub const TOKEN_INPUT_LEN: usize = 2 + NONCE_LEN + 32 + 32;

/// An RFC 9577 §2.2 Token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The token type.
    pub token_type: TokenType,
    /// The client's nonce.
    pub nonce: [u8; NONCE_LEN],
    /// SHA-256 of the TokenChallenge the token answers.
    pub challenge_digest: [u8; 32],
    /// SHA-256 of the issuer key.
    pub token_key_id: [u8; 32],
    /// The issuer's authenticator: 48 bytes (type 1) or 256 bytes (type 2).
    pub authenticator: Vec<u8>,
}

/// Why bytes are not a Token or TokenRequest.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The input is shorter than a token type.
    #[error("it is {0} bytes long; a token starts with a 2-byte token type")]
    Short(usize),
    /// A token type persona-mock does not issue.
    #[error("token type {0:#06x} is not one persona-mock issues (0x0001 or 0x0002)")]
    UnknownType(u16),
    /// The wrong length for its type.
    #[error("a token of type {token_type:#06x} is {expected} bytes long, not {got}")]
    Length {
        /// The token type.
        token_type: u16,
        /// The length the type has.
        expected: usize,
        /// The length received.
        got: usize,
    },
}

impl Token {
    /// Parses a token; its length must be the one of its type.
    pub fn decode(bytes: &[u8]) -> Result<Token, TokenError> {
        let token_type = read_type(bytes)?;
        let expected = TOKEN_INPUT_LEN + token_type.authenticator_len();
        if bytes.len() != expected {
            return Err(TokenError::Length {
                token_type: token_type.code(),
                expected,
                got: bytes.len(),
            });
        }
        let array = |range: std::ops::Range<usize>| -> [u8; 32] {
            bytes[range].try_into().expect("32-byte field")
        };
        Ok(Token {
            token_type,
            nonce: array(2..34),
            challenge_digest: array(34..66),
            token_key_id: array(66..98),
            authenticator: bytes[TOKEN_INPUT_LEN..].to_vec(),
        })
    }

    /// Serializes the token.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.input().to_vec();
        out.extend_from_slice(&self.authenticator);
        out
    }

    /// The token input the authenticator covers: the first 98 bytes.
    pub fn input(&self) -> [u8; TOKEN_INPUT_LEN] {
        let mut out = [0u8; TOKEN_INPUT_LEN];
        out[..2].copy_from_slice(&self.token_type.code().to_be_bytes());
        out[2..34].copy_from_slice(&self.nonce);
        out[34..66].copy_from_slice(&self.challenge_digest);
        out[66..98].copy_from_slice(&self.token_key_id);
        out
    }
}

/// An RFC 9578 TokenRequest: `token_type || truncated_token_key_id ||
/// blinded_msg`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest<'a> {
    /// The token type.
    pub token_type: TokenType,
    /// The last byte of the issuer key's id.
    pub truncated_token_key_id: u8,
    /// The blinded element (type 1) or blinded message (type 2).
    pub blinded_msg: &'a [u8],
}

impl<'a> TokenRequest<'a> {
    /// Parses a TokenRequest; its length must be the one of its type.
    pub fn decode(bytes: &'a [u8]) -> Result<TokenRequest<'a>, TokenError> {
        let token_type = read_type(bytes)?;
        let expected = 3 + token_type.blinded_len();
        if bytes.len() != expected {
            return Err(TokenError::Length {
                token_type: token_type.code(),
                expected,
                got: bytes.len(),
            });
        }
        Ok(TokenRequest {
            token_type,
            truncated_token_key_id: bytes[2],
            blinded_msg: &bytes[3..],
        })
    }
}

fn read_type(bytes: &[u8]) -> Result<TokenType, TokenError> {
    let code = match bytes {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => return Err(TokenError::Short(bytes.len())),
    };
    TokenType::from_code(code).ok_or(TokenError::UnknownType(code))
}

/// Why an `Authorization` value is not a `PrivateToken` credential.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationError {
    /// Another scheme (or none).
    #[error("the scheme is not PrivateToken")]
    NotPrivateToken,
    /// The parameters do not parse.
    #[error("the parameters are not a comma-separated list of name=value")]
    Malformed,
    /// No `token` parameter.
    #[error("it has no token parameter")]
    NoToken,
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#06x}", self.code())
    }
}

/// The `token` parameter of an `Authorization: PrivateToken …` value
/// (RFC 9577 §2.2): the scheme is case-insensitive, parameters are
/// `name=token` or `name="quoted string"` separated by commas, and
/// parameters other than `token` are ignored.
pub fn private_token_param(value: &str) -> Result<String, AuthorizationError> {
    let value = value.trim_start();
    let scheme_end = value.find([' ', '\t']).unwrap_or(value.len());
    if !value[..scheme_end].eq_ignore_ascii_case("privatetoken") {
        return Err(AuthorizationError::NotPrivateToken);
    }
    let mut rest = value[scheme_end..].trim_start();
    let mut token = None;
    while !rest.is_empty() {
        let eq = rest.find('=').ok_or(AuthorizationError::Malformed)?;
        let name = rest[..eq].trim();
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(AuthorizationError::Malformed);
        }
        rest = rest[eq + 1..].trim_start();
        let parsed;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => out.push(chars.next().ok_or(AuthorizationError::Malformed)?.1),
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => out.push(c),
                }
            }
            let end = end.ok_or(AuthorizationError::Malformed)?;
            parsed = out;
            rest = &quoted[end + 1..];
        } else {
            // token68-style values: base64url characters and '=' padding.
            let end = rest.find([',', ' ', '\t']).unwrap_or(rest.len());
            parsed = rest[..end].to_string();
            if parsed.is_empty() {
                return Err(AuthorizationError::Malformed);
            }
            rest = &rest[end..];
        }
        if name.eq_ignore_ascii_case("token") && token.is_none() {
            token = Some(parsed);
        }
        rest = rest.trim_start();
        match rest.strip_prefix(',') {
            Some(after) => rest = after.trim_start(),
            None if rest.is_empty() => {}
            None => return Err(AuthorizationError::Malformed),
        }
    }
    token.ok_or(AuthorizationError::NoToken)
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_check_their_length() {
        let token = Token {
            token_type: TokenType::VoprfP384,
            nonce: [1; 32],
            challenge_digest: [2; 32],
            token_key_id: [3; 32],
            authenticator: vec![4; 48],
        };
        let bytes = token.encode();
        assert_eq!(bytes.len(), 146);
        assert_eq!(Token::decode(&bytes).unwrap(), token);
        assert_eq!(
            Token::decode(&bytes[..145]),
            Err(TokenError::Length {
                token_type: 1,
                expected: 146,
                got: 145
            })
        );
        assert_eq!(Token::decode(&[0]), Err(TokenError::Short(1)));
        assert_eq!(
            Token::decode(&[0x2a, 0xaa, 0]),
            Err(TokenError::UnknownType(0x2aaa))
        );
    }

    #[test]
    fn token_requests_parse_by_type() {
        let mut bytes = vec![0, 2, 0x7f];
        bytes.extend_from_slice(&[9; 256]);
        let request = TokenRequest::decode(&bytes).unwrap();
        assert_eq!(request.token_type, TokenType::BlindRsa2048);
        assert_eq!(request.truncated_token_key_id, 0x7f);
        assert_eq!(request.blinded_msg.len(), 256);
        assert!(TokenRequest::decode(&bytes[..100]).is_err());
    }

    #[test]
    fn private_token_headers_in_every_form() {
        for value in [
            "PrivateToken token=abc",
            "privatetoken token=\"abc\"",
            "PrivateToken  token=\"abc\", extra=\"x, y\"",
            "PrivateToken other=1,token=abc",
            "PRIVATETOKEN token = abc",
        ] {
            assert_eq!(private_token_param(value).as_deref(), Ok("abc"), "{value}");
        }
        assert_eq!(
            private_token_param("PrivateToken token=\"YWI=\"").as_deref(),
            Ok("YWI=")
        );
        assert_eq!(
            private_token_param("Bearer abc"),
            Err(AuthorizationError::NotPrivateToken)
        );
        assert_eq!(
            private_token_param("PrivateToken other=1"),
            Err(AuthorizationError::NoToken)
        );
        assert_eq!(
            private_token_param("PrivateToken token=\"abc"),
            Err(AuthorizationError::Malformed)
        );
        assert_eq!(
            private_token_param("PrivateToken token=a b"),
            Err(AuthorizationError::Malformed)
        );
        assert_eq!(
            private_token_param("PrivateToken"),
            Err(AuthorizationError::NoToken)
        );
    }
}
