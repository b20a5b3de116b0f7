/* status.c - names for rb_status values. */
#include "rb.h"

const char *
rb_strerror(rb_status st)
{
  switch (st) {
  case RB_OK: return "ok";
  case RB_EINVAL: return "invalid input";
  case RB_ENOMEM: return "out of memory";
  case RB_ENOTFOUND: return "not found";
  case RB_ECONFLICT: return "conflict";
  case RB_ETOOBIG: return "too large";
  case RB_EUNAVAIL: return "unavailable";
  case RB_EIO: return "I/O error";
  case RB_EINTERNAL: return "internal error";
  }
  return "unknown status";
}
