// Holds a restore template's RAM as a sealed memfd that clones map privately (copy-on-write).
// QEMU 7.2's memory-backend-file opens mem-path read-write even with share=off, so a plain file shared by
// clones would be writable by each clone's QEMU; a memfd with F_SEAL_WRITE and F_SEAL_SHRINK cannot be
// written or truncated by anyone (root included), and MAP_PRIVATE mappings of it stay allowed.
//
//   ram-hold new BYTES    an empty memfd of BYTES (the template QEMU maps it shared and fills it);
//                         stdin "seal\n" then seals it against writes once that QEMU has exited
//   ram-hold load FILE    a memfd filled from FILE (all-zero blocks left as holes), sealed at once
//   ram-hold adopt PATH BYTES   the memfd PATH names (/proc/PID/fd/K of a clone's QEMU after a daemon restart), held
//                         only if it is BYTES long and already sealed against writes, shrinking and growing (the
//                         daemon then checks its bytes against the template's sha256 before any clone maps it)
//
// Prints "fd N\n" (the daemon opens /proc/PID/fd/N and hands that to QEMU), answers "sealed\n" or
// "error MESSAGE\n", and lives until stdin closes (the memfd lives as long as a holder or a mapping does).
#include "run-as.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define BLOCK (1 << 20)

static int fail(const char *what) {
  printf("error %s: %s\n", what, strerror(errno));
  fflush(stdout);
  return 1;
}

static int create(off_t bytes) {
  int fd = memfd_create("ardesia-template-ram", MFD_ALLOW_SEALING);
  if (fd < 0 || ftruncate(fd, bytes) != 0) return -1;
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) return -1;
  return fd;
}

static int seal_writes(int fd) {
  return fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SEAL);
}

/* FILE copied into a new memfd; blocks of zeros are skipped so untouched guest RAM stays unallocated. */
static int load(const char *path) {
  int in = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat st;
  if (in < 0 || fstat(in, &st) != 0) return -1;
  if (!S_ISREG(st.st_mode)) {
    errno = EINVAL;
    return -1;
  }
  int fd = create(st.st_size);
  if (fd < 0) return -1;
  static char buf[BLOCK], zero[BLOCK];
  for (off_t at = 0; at < st.st_size;) {
    ssize_t n = pread(in, buf, BLOCK, at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO; // the file shrank while read
      return -1;
    }
    if (memcmp(buf, zero, (size_t)n) != 0) {
      for (ssize_t done = 0; done < n;) {
        ssize_t w = pwrite(fd, buf + done, (size_t)(n - done), at + done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        done += w;
      }
    }
    at += n;
  }
  close(in);
  if (seal_writes(fd) != 0) return -1;
  return fd;
}

/* An existing memfd, held again: only one sealed as a template's RAM is (nobody can change its bytes any more). */
static int adopt(const char *path, off_t bytes) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) return -1;
  int seals = fcntl(fd, F_GET_SEALS);
  int wanted = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW;
  if (!S_ISREG(st.st_mode) || st.st_size != bytes || seals < 0 || (seals & wanted) != wanted) {
    printf("error %s: not a sealed memfd of %lld bytes\n", path, (long long)bytes);
    fflush(stdout);
    exit(1);
  }
  return fd;
}

/* BYTES as given on the command line: a positive multiple of the page size, or the usage error. */
static off_t bytes_arg(const char *text) {
  char *end;
  errno = 0;
  long long bytes = strtoll(text, &end, 10);
  if (errno || *end != '\0' || bytes <= 0 || bytes % 4096 != 0) {
    fprintf(stderr, "BYTES must be a positive multiple of 4096, not \"%s\"\n", text);
    exit(2);
  }
  return (off_t)bytes;
}

int main(int argc, char **argv) {
  int known = argc == 3 && (strcmp(argv[1], "new") == 0 || strcmp(argv[1], "load") == 0);
  if (!known && !(argc == 4 && strcmp(argv[1], "adopt") == 0)) {
    fprintf(stderr, "usage: ram-hold new BYTES | ram-hold load FILE | ram-hold adopt PATH BYTES\n");
    return 2;
  }
  int fd;
  if (strcmp(argv[1], "new") == 0) {
    fd = create(bytes_arg(argv[2]));
    if (fd < 0) return fail("creating the memfd");
  } else if (strcmp(argv[1], "adopt") == 0) {
    fd = adopt(argv[2], bytes_arg(argv[3]));
    if (fd < 0) return fail(argv[2]);
  } else {
    fd = load(argv[2]);
    if (fd < 0) return fail(argv[2]);
  }
  if (run_as_drop() != 0) return 1; // the daemon (root) still opens /proc/PID/fd/N; QEMU's accounts cannot
  printf("fd %d\n", fd);
  fflush(stdout);
  char line[64];
  while (fgets(line, sizeof line, stdin) != NULL) {
    if (strcmp(line, "seal\n") != 0) {
      printf("error unknown order\n");
    } else if (seal_writes(fd) != 0) {
      printf("error sealing: %s\n", strerror(errno)); // EBUSY: a shared writable mapping (the template QEMU) still exists
    } else {
      printf("sealed\n");
    }
    fflush(stdout);
  }
  return 0;
}
