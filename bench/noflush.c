/*
 * noflush.c - an LD_PRELOAD shim for bench/run.sh that turns every flush
 * to disk into a no-op: fsync, fdatasync, syncfs, sync_file_range and
 * msync return 0 at once (as libeatmydata does).
 *
 * bench/run.sh runs a second runbookd under it ("rb-noflush").  That
 * runbookd is NOT durable: an acknowledged alert can be lost in a crash.
 * It is measured only as a yardstick: runbookd's code (HTTP, parsing,
 * incidents, SQLite) with the disk's flush time taken out, which bounds
 * what any durability scheme built on this code could reach, an intake
 * journal beside SQLite included, since such a scheme still has to flush
 * before it answers.
 *
 *   cc -O2 -shared -fPIC -o noflush.so noflush.c
 *   LD_PRELOAD=./noflush.so runbookd ...
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stddef.h>
#include <sys/mman.h>
#include <unistd.h>

int
fsync(int fd)
{
  (void)fd;
  return 0;
}

int
fdatasync(int fd)
{
  (void)fd;
  return 0;
}

int
syncfs(int fd)
{
  (void)fd;
  return 0;
}

int
sync_file_range(int fd, off_t off, off_t n, unsigned int flags)
{
  (void)fd;
  (void)off;
  (void)n;
  (void)flags;
  return 0;
}

int
msync(void *addr, size_t len, int flags)
{
  (void)addr;
  (void)len;
  (void)flags;
  return 0;
}
