//! The attack corpus, tokens: every JOSE header trick, every claim that can be wrong, every
//! encoding trick, each with the status and WSO2 code it must get. A valid token is served
//! before and after the whole corpus: nothing in it takes the gateway down.

use crate::common::*;
use base64::Engine;
use http::{Method, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;
use tollgate_gateway::{Gateway, Transport};
use tollgate_net::security::{DEFAULT_KEY_ALIAS, DEFAULT_KEY_PEM, DEFAULT_PUBLIC_KEY_PEM};
use tollgate_protocol::ManualClock;
use tollgate_protocol::artifact::EnvironmentType;

const ATTACKER_KEY_PEM: &str = include_str!("fixtures/attacker.key.pem");
const MENU: &str = "/pizzashack/1.0.0/menu";

fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `header.payload` signed with `key` under `alg` (whatever the header says).
fn signed_raw(header: &str, payload: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{}.{}", b64(header), b64(payload));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{signature}")
}

fn default_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(DEFAULT_KEY_PEM.as_bytes()).unwrap()
}

/// A header JSON signed RS256 with the trusted key over the valid claims.
fn with_header(header: serde_json::Value) -> String {
    let payload = claims(PROD_KEY, "default", "jti-h", NOW + 3600).to_string();
    signed_raw(
        &header.to_string(),
        &payload,
        &default_key(),
        Algorithm::RS256,
    )
}

/// The valid claims changed by `edit`, signed right (kid `wso2carbon`, RS256).
fn with_claims(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut c = claims(PROD_KEY, "default", "jti-c", NOW + 3600);
    edit(&mut c);
    sign(&c)
}

fn rs256(kid: &str) -> serde_json::Value {
    json!({"alg": "RS256", "typ": "at+jwt", "kid": kid})
}

/// What a case must get: status and WSO2 code.
const INVALID: (u16, &str) = (401, "900901");
const MISSING: (u16, &str) = (401, "900902");
const FORBIDDEN: (u16, &str) = (403, "900908");

/// (what, Authorization header values, expected).
fn corpus() -> Vec<(String, Vec<String>, (u16, &'static str))> {
    let valid = token(PROD_KEY);
    let (head, rest) = valid.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let claims_json = claims(PROD_KEY, "default", "jti-x", NOW + 3600).to_string();
    let attacker = EncodingKey::from_rsa_pem(ATTACKER_KEY_PEM.as_bytes()).unwrap();
    let hmac_public = EncodingKey::from_secret(DEFAULT_PUBLIC_KEY_PEM.as_bytes());
    let std_b64 = base64::engine::general_purpose::STANDARD;
    let mut flipped: Vec<u8> = signature.bytes().collect();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();

    let mut cases: Vec<(String, String, (u16, &'static str))> = vec![
        // JOSE header: algorithm tricks.
        ("alg none".into(), format!("{}.{payload}.", b64(r#"{"alg":"none","kid":"wso2carbon"}"#)), INVALID),
        ("alg None".into(), format!("{}.{payload}.", b64(r#"{"alg":"None","kid":"wso2carbon"}"#)), INVALID),
        ("alg NONE with the real signature".into(), format!("{}.{payload}.{signature}", b64(r#"{"alg":"NONE","kid":"wso2carbon"}"#)), INVALID),
        ("alg HS256 keyed with the public key".into(), signed_raw(r#"{"alg":"HS256","kid":"wso2carbon"}"#, &claims_json, &hmac_public, Algorithm::HS256), INVALID),
        ("alg HS384 keyed with the public key".into(), signed_raw(r#"{"alg":"HS384","kid":"wso2carbon"}"#, &claims_json, &hmac_public, Algorithm::HS384), INVALID),
        ("alg HS512 keyed with the public key".into(), signed_raw(r#"{"alg":"HS512","kid":"wso2carbon"}"#, &claims_json, &hmac_public, Algorithm::HS512), INVALID),
        ("alg RS384 by the trusted key".into(), signed_raw(r#"{"alg":"RS384","kid":"wso2carbon"}"#, &claims_json, &default_key(), Algorithm::RS384), INVALID),
        ("alg RS512 by the trusted key".into(), signed_raw(r#"{"alg":"RS512","kid":"wso2carbon"}"#, &claims_json, &default_key(), Algorithm::RS512), INVALID),
        ("alg PS256 by the trusted key".into(), signed_raw(r#"{"alg":"PS256","kid":"wso2carbon"}"#, &claims_json, &default_key(), Algorithm::PS256), INVALID),
        ("alg ES256 over an RS256 signature".into(), format!("{}.{payload}.{signature}", b64(r#"{"alg":"ES256","kid":"wso2carbon"}"#)), INVALID),
        ("alg rs256 lower case".into(), with_header(json!({"alg":"rs256","kid":"wso2carbon"})), INVALID),
        ("alg missing".into(), with_header(json!({"kid":"wso2carbon"})), INVALID),
        ("alg null".into(), with_header(json!({"alg":null,"kid":"wso2carbon"})), INVALID),
        ("alg empty".into(), with_header(json!({"alg":"","kid":"wso2carbon"})), INVALID),
        ("alg a number".into(), with_header(json!({"alg":256,"kid":"wso2carbon"})), INVALID),
        // JOSE header: kid tricks (finding 1: the right key, a kid naming none).
        ("kid unknown".into(), with_header(rs256("evil")), INVALID),
        ("kid missing".into(), with_header(json!({"alg":"RS256","typ":"at+jwt"})), INVALID),
        ("kid a path".into(), with_header(rs256("../../../../../../dev/null")), INVALID),
        ("kid a URL".into(), with_header(rs256("https://evil.example.com/jwks.json")), INVALID),
        ("kid SQL".into(), with_header(rs256("' OR '1'='1")), INVALID),
        ("kid empty".into(), with_header(rs256("")), INVALID),
        ("kid a number".into(), with_header(json!({"alg":"RS256","kid":1})), INVALID),
        ("kid null".into(), with_header(json!({"alg":"RS256","kid":null})), INVALID),
        ("kid an array".into(), with_header(json!({"alg":"RS256","kid":["wso2carbon"]})), INVALID),
        ("kid with a trailing space".into(), with_header(rs256("wso2carbon "))  , INVALID),
        ("kid upper case".into(), with_header(rs256("WSO2CARBON")), INVALID),
        ("kid with a NUL".into(), with_header(rs256("wso2carbon\u{0}")), INVALID),
        ("kid twice, the second unknown".into(), signed_raw(r#"{"alg":"RS256","kid":"wso2carbon","kid":"evil"}"#, &claims_json, &default_key(), Algorithm::RS256), INVALID),
        // JOSE header: keys from the token itself, critical extensions, shape.
        ("attacker key, trusted kid".into(), signed_raw(&rs256(DEFAULT_KEY_ALIAS).to_string(), &claims_json, &attacker, Algorithm::RS256), INVALID),
        ("attacker key embedded as jwk".into(), signed_raw(&json!({"alg":"RS256","kid":"wso2carbon","jwk":{"kty":"RSA","n":"AQAB","e":"AQAB"}}).to_string(), &claims_json, &attacker, Algorithm::RS256), INVALID),
        ("attacker jku".into(), signed_raw(&json!({"alg":"RS256","kid":"attacker","jku":"https://evil.example.com/jwks"}).to_string(), &claims_json, &attacker, Algorithm::RS256), INVALID),
        ("attacker x5u".into(), signed_raw(&json!({"alg":"RS256","kid":"wso2carbon","x5u":"https://evil.example.com/cert"}).to_string(), &claims_json, &attacker, Algorithm::RS256), INVALID),
        ("crit names an extension".into(), with_header(json!({"alg":"RS256","kid":"wso2carbon","crit":["exp"],"exp":0})), INVALID),
        ("header not JSON".into(), format!("{}.{payload}.{signature}", b64("not json")), INVALID),
        ("header a JSON array".into(), format!("{}.{payload}.{signature}", b64(r#"["RS256"]"#)), INVALID),
        ("header in padded base64".into(), format!("{}=.{payload}.{signature}", head), INVALID),
        ("header in standard base64".into(), format!("{}.{payload}.{signature}", std_b64.encode(rs256("wso2carbon").to_string()).replace('=', "")), INVALID),
        ("JWE-shaped, five parts".into(), format!("{head}.{payload}.{signature}.x.y"), INVALID),
        // Claims.
        ("expired".into(), with_claims(|c| c["exp"] = json!(NOW - 1)), INVALID),
        ("exp is now".into(), with_claims(|c| c["exp"] = json!(NOW)), INVALID),
        ("exp missing".into(), with_claims(|c| { c.as_object_mut().unwrap().remove("exp"); }), INVALID),
        ("exp a string".into(), with_claims(|c| c["exp"] = json!("99999999999")), INVALID),
        ("exp a float beyond i64".into(), with_claims(|c| c["exp"] = json!(1e30)), INVALID),
        ("exp negative".into(), with_claims(|c| c["exp"] = json!(-1)), INVALID),
        ("exp null".into(), with_claims(|c| c["exp"] = json!(null)), INVALID),
        ("nbf in the future".into(), with_claims(|c| c["nbf"] = json!(NOW + 600)), INVALID),
        ("nbf a string".into(), with_claims(|c| c["nbf"] = json!("later")), INVALID),
        ("iss missing".into(), with_claims(|c| { c.as_object_mut().unwrap().remove("iss"); }), INVALID),
        ("iss unknown".into(), with_claims(|c| c["iss"] = json!("https://evil.example.com/oauth2/token")), INVALID),
        ("iss with a trailing slash".into(), with_claims(|c| c["iss"] = json!(format!("{ISSUER}/"))), INVALID),
        ("iss upper case".into(), with_claims(|c| c["iss"] = json!(ISSUER.to_uppercase())), INVALID),
        ("iss an array".into(), with_claims(|c| c["iss"] = json!([ISSUER])), INVALID),
        ("no azp, client_id or consumerKey".into(), with_claims(|c| { let o = c.as_object_mut().unwrap(); o.remove("azp"); o.remove("client_id"); }), INVALID),
        ("azp a number".into(), with_claims(|c| c["azp"] = json!(42)), INVALID),
        ("azp names no application".into(), with_claims(|c| { c["azp"] = json!("nobody"); c["client_id"] = json!("nobody"); }), FORBIDDEN),
        ("azp of an unsubscribed application".into(), with_claims(|c| { c["azp"] = json!(UNSUBSCRIBED_KEY); c["client_id"] = json!(UNSUBSCRIBED_KEY); }), FORBIDDEN),
        ("payload tampered after signing".into(), format!("{head}.{}.{signature}", b64(claims(UNSUBSCRIBED_KEY, "default", "jti-x", NOW + 3600).to_string())), INVALID),
        ("payload not JSON".into(), signed_raw(&rs256("wso2carbon").to_string(), "not json", &default_key(), Algorithm::RS256), INVALID),
        ("payload a JSON array".into(), signed_raw(&rs256("wso2carbon").to_string(), "[1,2]", &default_key(), Algorithm::RS256), INVALID),
        ("payload empty object".into(), signed_raw(&rs256("wso2carbon").to_string(), "{}", &default_key(), Algorithm::RS256), INVALID),
        // Encoding of the token itself.
        ("signature flipped".into(), format!("{head}.{payload}.{flipped}"), INVALID),
        ("signature empty".into(), format!("{head}.{payload}."), INVALID),
        ("signature truncated".into(), format!("{head}.{payload}.{}", &signature[..signature.len() / 2]), INVALID),
        ("signature padded".into(), format!("{head}.{payload}.{signature}=="), INVALID),
        ("signature in standard base64".into(), format!("{head}.{payload}.{}", signature.replace('-', "+").replace('_', "/")), INVALID),
        ("trailing dot".into(), format!("{valid}."), INVALID),
        ("two parts".into(), format!("{head}.{payload}"), INVALID),
        ("three empty parts".into(), "..".into(), INVALID),
        ("not a JWT".into(), "not-a-jwt".into(), INVALID),
        ("an opaque token".into(), "3f2a9c1e-7b4d-4e0a-9c3e-1d2b3a4c5d6e".into(), INVALID),
        ("100 KB of base64".into(), format!("{}.{}.{}", "A".repeat(34_000), "A".repeat(34_000), "A".repeat(34_000)), INVALID),
        ("two tokens in one header".into(), format!("{valid}, Bearer {valid}"), INVALID),
    ];
    // Header forms: finding 2 (case-sensitive scheme) and 8 (non-ASCII).
    let mut raw: Vec<(String, Vec<String>, (u16, &'static str))> = cases
        .drain(..)
        .map(|(what, token, expected)| (what, vec![format!("Bearer {token}")], expected))
        .collect();
    raw.extend([
        (
            "scheme lower case".into(),
            vec![format!("bearer {valid}")],
            MISSING,
        ),
        (
            "scheme upper case".into(),
            vec![format!("BEARER {valid}")],
            MISSING,
        ),
        (
            "scheme Basic".into(),
            vec![format!("Basic {valid}")],
            MISSING,
        ),
        (
            "scheme followed by a tab".into(),
            vec![format!("Bearer\t{valid}")],
            MISSING,
        ),
        ("scheme alone".into(), vec!["Bearer".into()], MISSING),
        ("scheme and a space".into(), vec!["Bearer ".into()], MISSING),
        ("empty header".into(), vec![String::new()], MISSING),
        (
            "two Authorization headers".into(),
            vec![format!("Bearer {valid}"), format!("Bearer {valid}")],
            INVALID,
        ),
        (
            "two Authorization headers, one bad".into(),
            vec![format!("Bearer {valid}"), "Bearer x.y.z".into()],
            INVALID,
        ),
        (
            "a non-ASCII character in the token".into(),
            vec![format!("Bearer {}é{}", &valid[..20], &valid[20..])],
            INVALID,
        ),
        (
            "a tab in the token".into(),
            vec![format!("Bearer {}\t{}", &valid[..20], &valid[20..])],
            INVALID,
        ),
    ]);
    raw
}

async fn answer(gw: &Gateway, authorizations: &[String]) -> Answer {
    let headers: Vec<(&str, &str)> = authorizations
        .iter()
        .map(|v| ("authorization", v.as_str()))
        .collect();
    call(gw, Method::GET, MENU, &headers, Transport::Https).await
}

/// `call` builds a request from `&str` headers; a non-ASCII value needs bytes.
async fn answer_bytes(gw: &Gateway, authorizations: &[String]) -> Answer {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    let mut builder = http::Request::get(MENU);
    for value in authorizations {
        builder = builder.header(
            "authorization",
            http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    let response = gw
        .handle(
            builder.body(Full::new(Bytes::new())).unwrap(),
            Transport::Https,
        )
        .await;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

#[tokio::test]
async fn every_hostile_token_gets_its_status_and_wso2_code_and_the_gateway_stays_up() {
    let (addr, _stop) = backend().await;
    let clock = ManualClock::new(NOW_MILLIS);
    let gw = gateway_with(settings(&["Default"]), &clock);
    let (p, s) = endpoints(addr);
    gw.apply_snapshot(&snapshot(
        "Default",
        vec![artifact(
            "pizza",
            "/pizzashack/1.0.0",
            EnvironmentType::Hybrid,
            p,
            s,
        )],
        1,
    ));
    let valid = vec![format!("Bearer {}", token(PROD_KEY))];
    assert_eq!(answer(&gw, &valid).await.status, StatusCode::OK);

    let corpus = corpus();
    assert!(corpus.len() >= 60, "{} cases", corpus.len());
    eprintln!("{} cases", corpus.len());
    let mut wrong = Vec::new();
    for (what, authorizations, (status, code)) in &corpus {
        let got = if authorizations.iter().all(|v| v.is_ascii()) {
            answer(&gw, authorizations).await
        } else {
            answer_bytes(&gw, authorizations).await
        };
        let got_code = got.json()["code"].as_str().unwrap_or_default().to_owned();
        if got.status.as_u16() != *status || got_code != *code {
            wrong.push(format!(
                "{what}: got {} {got_code}, want {status} {code}",
                got.status
            ));
        }
        if *status == 401 {
            assert!(got.headers.contains_key("www-authenticate"), "{what}");
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases wrong:\n{}",
        wrong.len(),
        corpus.len(),
        wrong.join("\n")
    );
    // The valid token still passes: nothing above poisoned the cache or the gateway.
    assert_eq!(answer(&gw, &valid).await.status, StatusCode::OK);
}

/// Trusted keys are parsed once, when the verifier is built. The PKCS#1 form of the trusted key
/// (`RSA PUBLIC KEY`) verifies what its SubjectPublicKeyInfo form does, and neither lets the
/// attacker's key through; a PEM that holds no key is left out, so tokens naming it are refused
/// by `kid` before any signature is checked.
#[test]
fn trusted_keys_in_either_pem_form_and_never_a_short_one() {
    use tollgate_gateway::authenticate::{JwtVerifier, TrustedKey};
    use tollgate_gateway::respond::InvalidToken;
    const PKCS1_PEM: &str = include_str!("fixtures/wso2carbon.pub.pkcs1.pem");
    let valid = token(PROD_KEY);
    let claims_json = claims(PROD_KEY, "default", "jti-k", NOW + 3600).to_string();
    let attacker = EncodingKey::from_rsa_pem(ATTACKER_KEY_PEM.as_bytes()).unwrap();
    let forged = signed_raw(
        &rs256(DEFAULT_KEY_ALIAS).to_string(),
        &claims_json,
        &attacker,
        Algorithm::RS256,
    );

    for pem in [DEFAULT_PUBLIC_KEY_PEM, PKCS1_PEM] {
        let verifier = JwtVerifier::new(&[TrustedKey::new(DEFAULT_KEY_ALIAS, pem)]);
        let verified = verifier.verify(&valid).unwrap();
        assert_eq!(verified.consumer_key, PROD_KEY);
        assert_eq!(verifier.verify(&forged), Err(InvalidToken::BadSignature));
    }
    let not_a_key = JwtVerifier::new(&[TrustedKey::new(DEFAULT_KEY_ALIAS, "no PEM here")]);
    assert_eq!(not_a_key.verify(&valid), Err(InvalidToken::UnknownKey));
}
