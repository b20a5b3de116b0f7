/*
 * thread.c - names for runbookd's threads, as top -H, ps -L, perf and gdb
 * show them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "rb.h"

#include <pthread.h>
#include <string.h>

void
rb_thread_name(const char *name)
{
  char n[16]; /* the kernel keeps 15 bytes and a NUL */

  strncpy(n, name, sizeof(n) - 1);
  n[sizeof(n) - 1] = '\0';
  (void)pthread_setname_np(pthread_self(), n);
}
