/*
 * flush_overlap.c - do concurrent flushes of one file overlap on this disk?
 *
 * THREADS threads each pwrite() a record of BYTES (8192: one aligned
 * 8 KB block) at the next record's offset of one preallocated 64 MB file
 * and fdatasync() it, in a loop, for SECONDS.  Prints the flushes per
 * second and their mean latency.  If two threads give about twice the
 * flushes of one at the same latency, two syncs overlap.  With BYTES 4120
 * (a SQLite WAL frame of a 4 KB page) consecutive records share a page of
 * the file, as consecutive WAL commits do (docs/benchmarks.md, round 5).
 *
 *   cc -O2 -o /tmp/flush_overlap bench/flush_overlap.c -lpthread
 *   for t in 1 2 4; do /tmp/flush_overlap /tmp/flush.dat $t; done
 *   for t in 1 2; do /tmp/flush_overlap /tmp/flush.dat $t 4120; done
 *
 * The file must be on the disk under test (not tmpfs); it is left behind.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FILE_BYTES (64L << 20)
#define MAX_RECORD 8192
#define SECONDS 3
#define MAX_THREADS 16

static int fd;
static long record = MAX_RECORD;
static atomic_long next_block, flushes;
static atomic_llong flush_ns;

static long long
now_ns(void)
{
  struct timespec t;

  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void *
run(void *arg)
{
  char buf[MAX_RECORD];
  long long end = now_ns() + SECONDS * 1000000000LL;

  (void)arg;
  memset(buf, 'x', sizeof(buf));
  while (now_ns() < end) {
    off_t off = (off_t)(atomic_fetch_add(&next_block, 1) % (FILE_BYTES / record)) * record;
    long long t0 = now_ns();

    if (pwrite(fd, buf, (size_t)record, off) != record || fdatasync(fd) != 0) {
      perror("flush_overlap: write");
      exit(1);
    }
    flush_ns += now_ns() - t0;
    flushes++;
  }
  return NULL;
}

int
main(int argc, char **argv)
{
  static char zero[MAX_RECORD];
  pthread_t t[MAX_THREADS];
  int n = argc > 2 ? atoi(argv[2]) : 1;

  if (argc > 3)
    record = atol(argv[3]);
  if (argc < 2 || n < 1 || n > MAX_THREADS || record < 1 || record > MAX_RECORD) {
    fprintf(stderr, "usage: flush_overlap FILE [THREADS 1-%d [BYTES 1-%d]]\n", MAX_THREADS,
            MAX_RECORD);
    return 2;
  }
  fd = open(argv[1], O_RDWR | O_CREAT, 0644);
  if (fd < 0) {
    perror(argv[1]);
    return 1;
  }
  /* Preallocated and written once, so a flush never changes metadata. */
  for (long i = 0; i < FILE_BYTES / MAX_RECORD; i++)
    if (pwrite(fd, zero, MAX_RECORD, (off_t)i * MAX_RECORD) != MAX_RECORD) {
      perror(argv[1]);
      return 1;
    }
  if (fsync(fd) != 0) {
    perror(argv[1]);
    return 1;
  }
  for (int i = 0; i < n; i++)
    pthread_create(&t[i], NULL, run, NULL);
  for (int i = 0; i < n; i++)
    pthread_join(t[i], NULL);
  printf("threads=%d bytes=%ld flushes/s=%.0f mean_us=%.1f\n", n, record, (double)flushes / SECONDS,
         flushes ? (double)flush_ns / 1e3 / (double)flushes : 0.0);
  return 0;
}
