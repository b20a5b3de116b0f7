/*
 * payload.h - Alertmanager's webhook payload (version 4), parsed and
 * bounded.
 *
 * payload_parse() checks the body before cJSON sees it (UTF-8, nesting
 * depth), then every field's type and size against struct payload_limits.
 * Unknown fields are ignored, as the contract says.  On failure it writes a
 * message naming the field and the problem ("alerts[3].labels.severity:
 * must be a string") into err.  Safe on any thread.
 */
#ifndef RUNBOOKD_PAYLOAD_H
#define RUNBOOKD_PAYLOAD_H

#include "arena.h"
#include "rb.h"

struct am_kv {
  char *name;
  char *value;
};

/* Sorted by name (byte order), names unique. */
struct am_labels {
  struct am_kv *kv;
  size_t n;
};

struct am_alert {
  int resolved;          /* status == "resolved" */
  struct am_labels labels;
  struct am_labels annotations;
  int64_t starts_at_ns;  /* 0 when unset */
  int64_t ends_at_ns;    /* 0 when unset (Go's zero time) */
  char *generator_url;
  char fingerprint[17];  /* 16 hex digits */
  int fingerprint_computed; /* absent in the payload: computed here */
  int remediate;         /* set by the receiver: a remediation plan matches */
};

/* Every string and array of a parsed payload is in its arena, freed with
 * it by payload_free() (never free() one alone). */
struct am_payload {
  struct rb_arena mem;
  char *receiver;
  int resolved;          /* group status */
  char *group_key;
  char *external_url;
  int64_t truncated_alerts;
  struct am_labels group_labels;
  struct am_labels common_labels;
  struct am_labels common_annotations;
  struct am_alert *alerts;
  size_t n_alerts;
};

struct payload_limits {
  size_t max_alerts;
  size_t max_labels;
  size_t max_label_name_bytes;
  size_t max_label_value_bytes;
  size_t max_annotation_bytes;
  unsigned max_depth;
};

/* Parses body[0..len).  On RB_OK *out is the caller's (payload_free).
 * The parse tree is built in an arena of its own (a buffer on the
 * caller's stack for a small body), so the parse costs a few malloc()
 * calls whatever the number of fields.  On
 * RB_EINVAL (malformed) or RB_ETOOBIG (over a limit) err holds the reason.
 * RB_ENOMEM when allocation fails. */
rb_status payload_parse(const char *body, size_t len,
                        const struct payload_limits *lim,
                        struct am_payload **out, char *err, size_t errlen);
void payload_free(struct am_payload *p);
/* Installs the cJSON allocation hooks payload_parse() builds its tree
 * with (malloc() and free() for every other use).  payload_parse() calls
 * it; call it first from main() so that no other thread is using cJSON
 * while the hooks change. */
void payload_init(void);

/* Builds a sorted label set from a JSON object of strings (as stored with
 * an incident).  RB_EINVAL when it is not one. */
rb_status am_labels_from_json(const char *json, struct am_labels *out);
void am_labels_free(struct am_labels *ls);

/* Looks a label up; NULL when absent. */
const char *am_label(const struct am_labels *ls, const char *name);

/* Alertmanager's fingerprint of a label set (model.LabelSet.Fingerprint:
 * FNV-1a 64 over sorted names and values, each followed by 0xff), as 16
 * lowercase hex digits into out[17]. */
void am_fingerprint(const struct am_labels *ls, char out[17]);

/* Returns the byte offset of the first invalid UTF-8 sequence, or -1 when
 * the whole buffer is valid. */
long utf8_invalid_at(const char *s, size_t len);

/* Whether the n bytes at p are all JSON whitespace (p need not be
 * NUL-terminated). */
int json_only_space(const char *p, size_t n);

/* What json_scan() measured of a body. */
struct json_scan {
  unsigned depth; /* deepest nesting of arrays and objects */
  size_t values;  /* values in it, about: commas plus containers plus one (a
                   * bound on the nodes of its parse tree) */
  unsigned open;  /* arrays, objects and strings still open at the end: a
                   * body cut short */
};

/* Checks an untrusted JSON body before it is parsed: valid UTF-8, no NUL
 * byte, no unescaped control character and no \u0000 in a string (names
 * and values become C strings, which a NUL would cut short, and two
 * different labels would become one), and arrays and objects nested no
 * deeper than max_depth.  Returns 0 and fills *out (when not NULL), or -1
 * with err naming the first problem and its byte offset.  Not a parser:
 * what it passes may still be malformed JSON. */
int json_scan(const char *s, size_t len, unsigned max_depth, struct json_scan *out, char *err,
              size_t errlen);

#endif
