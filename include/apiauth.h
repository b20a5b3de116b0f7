/*
 * apiauth.h - authorization of the HTTP API (not of the webhook, which has
 * its own credentials): bearer tokens with roles.
 *
 *   read     GET incidents, reports, stats, silences
 *   respond  read + ack/unack/resolve/comment and add/expire silences
 *   admin    respond + /-/reload
 *
 * Configured as "api": {"tokens": [{"name": "alice", "role": "respond",
 * "token_file": "secrets/alice"}]}.  With no tokens configured the API
 * falls back to the webhook's credentials (or to none on a loopback-only
 * listener), as before.
 */
#ifndef RUNBOOKD_APIAUTH_H
#define RUNBOOKD_APIAUTH_H

#include "config.h"

enum api_role { ROLE_NONE = 0, ROLE_READ, ROLE_RESPOND, ROLE_ADMIN };

struct api_token {
  char *name;
  char *token;
  enum api_role role;
};

struct api_auth {
  struct api_token *tokens;
  size_t n;
};

const char *api_role_name(enum api_role r);

/* Parses the "api" section (JSON text or NULL).  Problems go to errs as
 * "FILE: api.FIELD".  Returns NULL on problems; an empty (n == 0) result
 * when the section is absent. */
struct api_auth *apiauth_load(const char *json, const char *file, struct config_errors *errs);
void apiauth_free(struct api_auth *a);

/* The role an Authorization header grants, and the token's name (static
 * for the configuration's lifetime).  Compares every token in constant
 * time.  ROLE_NONE with *why set when it grants nothing. */
enum api_role apiauth_check(const struct api_auth *a, const char *header, const char **name,
                            const char **why);

#endif
