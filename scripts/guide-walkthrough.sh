#!/usr/bin/env bash
# The guide's steps 3-5 ("Publish Through Multiple API Gateways") with curl alone, against a
# running guide topology (`cargo run --release -p tollgate-harness --bin tollgate -- up`).
#
# The guide's URLs are used verbatim (https://localhost:9443, http://localhost:8281, ...);
# TOLLGATE_ADDRESS (default 127.0.0.1) is where "localhost" really is, applied with
# `curl --connect-to localhost::$TOLLGATE_ADDRESS:` so a topology on a private loopback address
# works unchanged. `-k` as WSO2 users do: every node serves the built-in wso2carbon certificate.
#
# Prints each step; exits non-zero with a message at the first unexpected response. Asserts:
#   - the Developer Portal lists two endpointURLs (Production Gateway, Default);
#   - a PRODUCTION token reaches the production backend through both gateways;
#   - a SANDBOX token gets 401 "Sandbox Key Provided for Production Gateway" on the Production
#     Gateway and reaches the sandbox backend through Default.
# Needs: bash, curl, python3 (JSON only).
set -euo pipefail

ADDRESS="${TOLLGATE_ADDRESS:-127.0.0.1}"
CP="https://localhost:9443"
PROD_GW_MGMT="https://localhost:9444"
DEFAULT_GW_MGMT="https://localhost:9445"
PRODUCTION_BACKEND="http://localhost:9080/pizzashack"
SANDBOX_BACKEND="http://localhost:9081/pizzashack"
SCOPES="apim:api_view apim:api_create apim:api_publish apim:api_manage apim:subscribe apim:app_manage apim:sub_manage"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
BODY=""
STATUS=""

step() { printf '\n==> %s\n' "$*"; }
ok() { printf '    ok: %s\n' "$*"; }
fail() {
    printf '\nFAILED: %s\n' "$*" >&2
    exit 1
}

# request EXPECTED_STATUS WHAT curl-args...: one call; BODY and STATUS hold the answer.
request() {
    local expected="$1" what="$2"
    shift 2
    STATUS="$(curl -sS -k --max-time 30 --connect-to "localhost::${ADDRESS}:" \
        -o "$WORK/body" -w '%{http_code}' "$@")" || fail "$what: curl could not complete the call"
    BODY="$(cat "$WORK/body")"
    [[ "$STATUS" == "$expected" ]] || fail "$what: expected HTTP $expected, got $STATUS: $BODY"
}

# json EXPR: evaluates a Python expression over the JSON in BODY (bound to `d`).
json() {
    printf '%s' "$BODY" | python3 -c '
import json, sys
d = json.load(sys.stdin)
value = eval(sys.argv[1])
print(value if isinstance(value, str) else json.dumps(value))
' "$1" || fail "cannot read $1 from: $BODY"
}

# expect_eq WHAT ACTUAL EXPECTED
expect_eq() {
    [[ "$2" == "$3" ]] || fail "$1: expected \"$3\", got \"$2\" (body: $BODY)"
    ok "$1 = $3"
}

step "Step 3 - the instances are up"
request 200 "control plane JWKS" "$CP/oauth2/jwks"
ok "control plane answers on 9443"
request 200 "Production Gateway health" "$PROD_GW_MGMT/api/am/gateway/v2/server-startup-healthcheck"
ok "Production Gateway answers on 9444"
request 200 "Default gateway health" "$DEFAULT_GW_MGMT/api/am/gateway/v2/server-startup-healthcheck"
ok "Default gateway answers on 9445"

step "Register a REST client (DCR) and get a token with the password grant"
request 200 "DCR" -u admin:admin -H 'Content-Type: application/json' \
    -d '{"callbackUrl":"www.google.lk","clientName":"rest_api_publisher","owner":"admin","grantType":"client_credentials password refresh_token","saasApp":true}' \
    "$CP/client-registration/v0.17/register"
CLIENT_ID="$(json 'd["clientId"]')"
CLIENT_SECRET="$(json 'd["clientSecret"]')"
ok "client $CLIENT_ID"
request 200 "password grant" -u "$CLIENT_ID:$CLIENT_SECRET" \
    --data-urlencode grant_type=password --data-urlencode username=admin \
    --data-urlencode password=admin --data-urlencode "scope=$SCOPES" \
    "$CP/oauth2/token"
REST_TOKEN="$(json 'd["access_token"]')"
ok "token with scopes: $(json 'd["scope"]')"
AUTH=(-H "Authorization: Bearer $REST_TOKEN")

step "Step 4.1 - create PizzaShackAPI with production and sandbox endpoints"
request 201 "create API" "${AUTH[@]}" -H 'Content-Type: application/json' -d '{
  "name": "PizzaShackAPI",
  "context": "/pizzashack",
  "version": "1.0.0",
  "policies": ["Unlimited"],
  "endpointConfig": {
    "endpoint_type": "http",
    "production_endpoints": {"url": "'"$PRODUCTION_BACKEND"'"},
    "sandbox_endpoints": {"url": "'"$SANDBOX_BACKEND"'"}
  },
  "operations": [{"target": "/menu", "verb": "GET", "authType": "Application & Application User", "throttlingPolicy": "Unlimited"}]
}' "$CP/api/am/publisher/v4/apis"
API_ID="$(json 'd["id"]')"
ok "API $API_ID"

step "Step 4.2 - Deployments > Deploy New Revision"
request 201 "create revision" "${AUTH[@]}" -H 'Content-Type: application/json' \
    -d '{"description":"Guide walk-through"}' "$CP/api/am/publisher/v4/apis/$API_ID/revisions"
REVISION_ID="$(json 'd["id"]')"
ok "$(json 'd["displayName"]') ($REVISION_ID)"

step "Step 4.3 - select both gateways and deploy"
request 201 "deploy revision" "${AUTH[@]}" -H 'Content-Type: application/json' -d '[
  {"name": "Production Gateway", "vhost": "localhost", "displayOnDevportal": true},
  {"name": "Default", "vhost": "localhost", "displayOnDevportal": true}
]' "$CP/api/am/publisher/v4/apis/$API_ID/deploy-revision?revisionId=$REVISION_ID"
ok "deployed to: $(json '", ".join(sorted(x["name"] for x in d))')"
request 200 "publish" "${AUTH[@]}" -X POST \
    "$CP/api/am/publisher/v4/apis/change-lifecycle?apiId=$API_ID&action=Publish"
ok "published"

step "Step 4.4 - the Developer Portal shows two sets of URLs"
request 200 "DevPortal API" "${AUTH[@]}" "$CP/api/am/devportal/v3/apis/$API_ID"
expect_eq "endpointURLs count" "$(json 'len(d["endpointURLs"])')" "2"
expect_eq "environments" "$(json '",".join(sorted(e["environmentName"] for e in d["endpointURLs"]))')" "Default,Production Gateway"
expect_eq "Production Gateway http URL" \
    "$(json '[e["URLs"]["http"] for e in d["endpointURLs"] if e["environmentName"] == "Production Gateway"][0]')" \
    "http://localhost:8281/pizzashack/1.0.0"
expect_eq "Default https URL" \
    "$(json '[e["URLs"]["https"] for e in d["endpointURLs"] if e["environmentName"] == "Default"][0]')" \
    "https://localhost:8245/pizzashack/1.0.0"

step "Step 5 - an application, a subscription, PRODUCTION and SANDBOX keys"
request 201 "create application" "${AUTH[@]}" -H 'Content-Type: application/json' \
    -d '{"name":"PizzaApp","throttlingPolicy":"Unlimited","description":"Guide walk-through","tokenType":"JWT"}' \
    "$CP/api/am/devportal/v3/applications"
APP_ID="$(json 'd["applicationId"]')"
ok "application $APP_ID"
request 201 "subscribe" "${AUTH[@]}" -H 'Content-Type: application/json' \
    -d '{"apiId":"'"$API_ID"'","applicationId":"'"$APP_ID"'","throttlingPolicy":"Unlimited"}' \
    "$CP/api/am/devportal/v3/subscriptions"
ok "subscribed ($(json 'd["status"]'))"

declare -A TOKEN
for KEY_TYPE in PRODUCTION SANDBOX; do
    request 200 "generate $KEY_TYPE keys" "${AUTH[@]}" -H 'Content-Type: application/json' \
        -d '{"keyType":"'"$KEY_TYPE"'","grantTypesToBeSupported":["password","client_credentials"]}' \
        "$CP/api/am/devportal/v3/applications/$APP_ID/generate-keys"
    KEY="$(json 'd["consumerKey"]')"
    SECRET="$(json 'd["consumerSecret"]')"
    request 200 "$KEY_TYPE token (password grant)" -u "$KEY:$SECRET" \
        --data-urlencode grant_type=password --data-urlencode username=admin \
        --data-urlencode password=admin "$CP/oauth2/token"
    TOKEN[$KEY_TYPE]="$(json 'd["access_token"]')"
    ok "$KEY_TYPE token issued to consumer key $KEY"
done

step "Wait until both gateways have applied every control-plane event (no sleeping)"
request 200 "event hub position" -u admin:admin \
    "$CP/internal/data/v1/runtime-artifacts?gatewayLabel=$(printf 'Default' | python3 -c 'import base64,sys; print(base64.urlsafe_b64encode(sys.stdin.buffer.read()).decode().rstrip("="))')"
SEQ="$(json 'd["eventSeq"]')"
for MGMT in "$PROD_GW_MGMT" "$DEFAULT_GW_MGMT"; do
    request 200 "gateway $MGMT sync to event $SEQ" "$MGMT/_tollgate/sync?seq=$SEQ&timeoutMs=20000"
    ok "${MGMT##*:} applied event $(json 'd["appliedSeq"]')"
done

# call WHAT KEY_TYPE URL EXPECTED_STATUS [EXPECTED_BACKEND]
call() {
    request "$4" "$1" -H "Authorization: Bearer ${TOKEN[$2]}" "$3"
    if [[ -n "${5:-}" ]]; then
        expect_eq "$1: served by" "$(json 'd["backend"]')" "$5"
    else
        ok "$1: HTTP $4"
    fi
}

step "PRODUCTION token through both gateways reaches the production backend"
call "Production Gateway (HTTP 8281)" PRODUCTION "http://localhost:8281/pizzashack/1.0.0/menu" 200 pizzashack-production
call "Production Gateway (HTTPS 8244)" PRODUCTION "https://localhost:8244/pizzashack/1.0.0/menu" 200 pizzashack-production
call "Default (HTTP 8282)" PRODUCTION "http://localhost:8282/pizzashack/1.0.0/menu" 200 pizzashack-production
call "Default (HTTPS 8245)" PRODUCTION "https://localhost:8245/pizzashack/1.0.0/menu" 200 pizzashack-production

step "SANDBOX token: refused by the Production Gateway, sandbox backend through Default"
call "Production Gateway (HTTP 8281)" SANDBOX "http://localhost:8281/pizzashack/1.0.0/menu" 401
expect_eq "Production Gateway refusal body" "$BODY" "<error><message>Sandbox Key Provided for Production Gateway</message></error>"
call "Default (HTTP 8282)" SANDBOX "http://localhost:8282/pizzashack/1.0.0/menu" 200 pizzashack-sandbox
call "Default (HTTPS 8245)" SANDBOX "https://localhost:8245/pizzashack/1.0.0/menu" 200 pizzashack-sandbox

printf '\nThe guide walk-through passed: one API, two gateways, each key type where the guide says.\n'
