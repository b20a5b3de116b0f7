/*
 * auth.c - the webhook's credentials, as Alertmanager's http_config sends
 * them: "Authorization: Bearer <token>" (authorization.credentials or
 * bearer_token_file) or "Authorization: Basic <base64(user:pass)>"
 * (basic_auth).  Secrets are compared through their SHA-256 digests with
 * CRYPTO_memcmp, so neither content nor length leaks through timing, and
 * decoded copies are wiped after use.
 */
#include "config.h"
#include "http.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>
#include <strings.h>

int
auth_equal(const char *a, const char *b)
{
  unsigned char da[SHA256_DIGEST_LENGTH], db[SHA256_DIGEST_LENGTH];
  int eq;

  SHA256((const unsigned char *)a, strlen(a), da);
  SHA256((const unsigned char *)b, strlen(b), db);
  eq = CRYPTO_memcmp(da, db, sizeof(da)) == 0;
  OPENSSL_cleanse(da, sizeof(da));
  OPENSSL_cleanse(db, sizeof(db));
  return eq;
}

static int
check_basic(const struct rb_config *cfg, const char *b64, const char **why)
{
  unsigned char dec[1024];
  size_t len = strlen(b64);
  int n, pad = 0, ok = 0;
  char *colon;

  if (len == 0 || len > 4 * (sizeof(dec) / 3) - 4 || len % 4) {
    *why = "malformed basic credentials";
    return 0;
  }
  n = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)len);
  if (n < 0) {
    *why = "malformed basic credentials";
    return 0;
  }
  if (len >= 1 && b64[len - 1] == '=')
    pad++;
  if (len >= 2 && b64[len - 2] == '=')
    pad++;
  n -= pad;
  dec[n] = '\0';
  colon = memchr(dec, ':', (size_t)n);
  if (!colon || memchr(dec, '\0', (size_t)n)) {
    *why = "malformed basic credentials";
  } else {
    int user_ok, pass_ok;
    *colon = '\0';
    /* Evaluate both comparisons: no early exit on the user name. */
    user_ok = auth_equal((const char *)dec, cfg->basic_username);
    pass_ok = auth_equal(colon + 1, cfg->basic_password);
    ok = user_ok & pass_ok;
    if (!ok)
      *why = "wrong user name or password";
  }
  OPENSSL_cleanse(dec, sizeof(dec));
  return ok;
}

int
auth_check(const struct rb_config *cfg, struct MHD_Connection *conn,
           const char **why)
{
  return auth_check_header(cfg, MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                            MHD_HTTP_HEADER_AUTHORIZATION),
                           why);
}

int
auth_check_header(const struct rb_config *cfg, const char *h, const char **why)
{
  if (!cfg->bearer_token && !cfg->basic_password)
    return 1;
  if (!h) {
    *why = "credentials required (Authorization header missing)";
    return 0;
  }
  if (strncasecmp(h, "Bearer ", 7) == 0) {
    if (!cfg->bearer_token) {
      *why = "bearer tokens are not accepted here; use basic auth";
      return 0;
    }
    h += 7;
    while (*h == ' ')
      h++;
    if (auth_equal(h, cfg->bearer_token))
      return 1;
    *why = "wrong bearer token";
    return 0;
  }
  if (strncasecmp(h, "Basic ", 6) == 0) {
    if (!cfg->basic_password) {
      *why = "basic auth is not accepted here; use a bearer token";
      return 0;
    }
    h += 6;
    while (*h == ' ')
      h++;
    return check_basic(cfg, h, why);
  }
  if (strcasecmp(h, "Bearer") == 0 || strcasecmp(h, "Basic") == 0) {
    *why = "Authorization header has a scheme but no credentials";
    return 0;
  }
  *why = "unsupported Authorization scheme (use Bearer or Basic)";
  return 0;
}
