/* apiauth.c - API tokens with roles (see apiauth.h). */
#include "apiauth.h"
#include "http.h"
#include "rbfile.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const role_names[] = { "none", "read", "respond", "admin" };

const char *
api_role_name(enum api_role r)
{
  return (unsigned)r < RB_ARRAY_LEN(role_names) ? role_names[r] : "none";
}

struct api_auth *
apiauth_load(const char *json, const char *file, struct config_errors *errs)
{
  struct api_auth *a = calloc(1, sizeof(*a));
  size_t before = errs->n;
  char *dir = NULL, where[512];
  cJSON *root = NULL;
  const cJSON *toks, *it;

  if (!a)
    return NULL;
  if (!json)
    return a;
  dir = rb_dirname(file);
  root = cJSON_Parse(json);
  toks = cJSON_GetObjectItemCaseSensitive(root, "tokens");
  for (it = root ? root->child : NULL; it; it = it->next) {
    if (strcmp(it->string, "tokens") != 0) {
      snprintf(where, sizeof(where), "%s: api.%s", file ? file : "config", it->string);
      config_errors_add(errs, where, "unknown field");
    }
  }
  if (toks && !cJSON_IsArray(toks)) {
    snprintf(where, sizeof(where), "%s: api.tokens", file ? file : "config");
    config_errors_add(errs, where, "must be an array of {name, role, token_file}");
  } else if (toks) {
    size_t i = 0;
    a->tokens = calloc((size_t)cJSON_GetArraySize(toks) + 1, sizeof(*a->tokens));
    cJSON_ArrayForEach(it, toks) {
      const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
      const cJSON *role = cJSON_GetObjectItemCaseSensitive(it, "role");
      const cJSON *tf = cJSON_GetObjectItemCaseSensitive(it, "token_file");
      struct api_token *t = &a->tokens[a->n];
      char err[512];
      int r = -1;

      snprintf(where, sizeof(where), "%s: api.tokens[%zu]", file ? file : "config", i++);
      for (int k = ROLE_READ; k <= ROLE_ADMIN && cJSON_IsString(role); k++)
        if (strcmp(role->valuestring, role_names[k]) == 0)
          r = k;
      if (!cJSON_IsString(nm) || !*nm->valuestring) {
        config_errors_add(errs, where, "needs a name (it is recorded as the actor)");
        continue;
      }
      if (r < 0) {
        config_errors_add(errs, where, "role must be read, respond or admin");
        continue;
      }
      if (!cJSON_IsString(tf)) {
        config_errors_add(errs, where, "needs token_file");
        continue;
      }
      {
        char *path = rb_path_join(dir, tf->valuestring);
        t->token = path ? rb_read_secret(path, err, sizeof(err)) : NULL;
        free(path);
      }
      if (!t->token) {
        config_errors_add(errs, where, "%s", err);
        continue;
      }
      t->name = strdup(nm->valuestring);
      t->role = (enum api_role)r;
      a->n++;
    }
  }
  cJSON_Delete(root);
  free(dir);
  if (errs->n != before) {
    apiauth_free(a);
    return NULL;
  }
  return a;
}

void
apiauth_free(struct api_auth *a)
{
  if (!a)
    return;
  for (size_t i = 0; i < a->n; i++) {
    free(a->tokens[i].name);
    if (a->tokens[i].token) {
      explicit_bzero(a->tokens[i].token, strlen(a->tokens[i].token));
      free(a->tokens[i].token);
    }
  }
  free(a->tokens);
  free(a);
}

enum api_role
apiauth_check(const struct api_auth *a, const char *h, const char **name, const char **why)
{
  enum api_role best = ROLE_NONE;

  *name = NULL;
  if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
    *why = h ? "the API takes a bearer token" : "an API token is required";
    return ROLE_NONE;
  }
  h += 7;
  while (*h == ' ')
    h++;
  /* Compare with every token (no early exit), keep the match. */
  for (size_t i = 0; i < a->n; i++) {
    if (auth_equal(h, a->tokens[i].token)) {
      best = a->tokens[i].role;
      *name = a->tokens[i].name;
    }
  }
  if (best == ROLE_NONE)
    *why = "unknown API token";
  return best;
}
