// libFuzzer front end for a .NET target instrumented by SharpFuzz: libFuzzer mutates here, the managed target runs
// in one long-lived child process (SharpFuzz's Fuzzer.LibFuzzer.Run), and its edge map comes back as extra counters.
//
// The child protocol is SharpFuzz's: a System V shared memory segment holds the 64 KiB edge map followed by the
// input; its id is in __LIBFUZZER_SHM_ID. Two pipes, named to the child by descriptor number in
// __LIBFUZZER_CONTROL_PIPE_ID (we write the input length, int32) and __LIBFUZZER_STATUS_PIPE_ID (it writes an
// int32: 0 at start-up, then 0 per input that ran or 2 for an exception that escaped).
//
// Environment: KRAKEN_FUZZ_CMD is the child's command line (split at spaces), KRAKEN_FUZZ_MAX_LEN the largest
// input (default 1 MiB). The number of inputs run is printed at exit as "kraken-fuzz: N execs".
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAP_SIZE 65536

// libFuzzer reads every byte of this section as a coverage counter after each input.
// "used": the compiler sees only stores to it and would otherwise drop it.
__attribute__((used, section("__libfuzzer_extra_counters"))) uint8_t counters[MAP_SIZE];

static uint8_t *shared;
static size_t max_len;
static int control_fd = -1;
static int status_fd = -1;
static pid_t child = -1;
static unsigned long long execs;

static void report(void) { fprintf(stderr, "kraken-fuzz: %llu execs\n", execs); }

static void fail(const char *what) {
  fprintf(stderr, "kraken-fuzz: %s: %s\n", what, strerror(errno));
  exit(2);
}

static int read_all(int fd, void *buf, size_t n) {
  uint8_t *p = buf;
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static int write_all(int fd, const void *buf, size_t n) {
  const uint8_t *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

// The child died or broke the protocol: a crash of the target process itself.
static void child_lost(void) {
  int status = 0;
  if (child > 0 && waitpid(child, &status, WNOHANG) == child) {
    if (WIFSIGNALED(status))
      fprintf(stderr, "kraken-fuzz: target killed by signal %d\n", WTERMSIG(status));
    else if (WIFEXITED(status))
      fprintf(stderr, "kraken-fuzz: target exited with %d\n", WEXITSTATUS(status));
  } else {
    fprintf(stderr, "kraken-fuzz: target stopped answering\n");
  }
  report();
  abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *cmd = getenv("KRAKEN_FUZZ_CMD");
  if (cmd == NULL || *cmd == '\0') {
    fprintf(stderr, "kraken-fuzz: set KRAKEN_FUZZ_CMD to the target's command line\n");
    exit(2);
  }

  const char *len = getenv("KRAKEN_FUZZ_MAX_LEN");
  max_len = len != NULL ? strtoull(len, NULL, 10) : 0;
  if (max_len == 0)
    max_len = 1 << 20;

  int shm = shmget(IPC_PRIVATE, MAP_SIZE + max_len, IPC_CREAT | IPC_EXCL | 0600);
  if (shm < 0)
    fail("shmget");
  shared = shmat(shm, NULL, 0);
  // Marked for removal now: the segment lives until both processes detach, and never outlives them.
  shmctl(shm, IPC_RMID, NULL);
  if (shared == (void *)-1)
    fail("shmat");

  int to_child[2], from_child[2];
  if (pipe(to_child) != 0 || pipe(from_child) != 0)
    fail("pipe");

  char text[32];
  snprintf(text, sizeof text, "%d", shm);
  setenv("__LIBFUZZER_SHM_ID", text, 1);
  snprintf(text, sizeof text, "%d", to_child[0]);
  setenv("__LIBFUZZER_CONTROL_PIPE_ID", text, 1);
  snprintf(text, sizeof text, "%d", from_child[1]);
  setenv("__LIBFUZZER_STATUS_PIPE_ID", text, 1);

  char *line = strdup(cmd);
  char *args[64];
  int n = 0;
  for (char *tok = strtok(line, " "); tok != NULL && n < 63; tok = strtok(NULL, " "))
    args[n++] = tok;
  args[n] = NULL;

  child = fork();
  if (child < 0)
    fail("fork");
  if (child == 0) {
    // The target must not outlive the fuzzer (libFuzzer may end us with _exit on a timeout).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(to_child[1]);
    close(from_child[0]);
    execvp(args[0], args);
    fprintf(stderr, "kraken-fuzz: cannot run %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }

  close(to_child[0]);
  close(from_child[1]);
  control_fd = to_child[1];
  status_fd = from_child[0];
  signal(SIGPIPE, SIG_IGN);

  int32_t hello;
  if (read_all(status_fd, &hello, sizeof hello) != 0 || hello != 0)
    child_lost();
  atexit(report);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > max_len)
    size = max_len;
  memset(shared, 0, MAP_SIZE);
  memcpy(shared + MAP_SIZE, data, size);
  int32_t length = (int32_t)size;
  int32_t status;
  if (write_all(control_fd, &length, sizeof length) != 0 || read_all(status_fd, &status, sizeof status) != 0)
    child_lost();
  execs++;
  memcpy(counters, shared, MAP_SIZE);
  if (status != 0) {
    fprintf(stderr, "kraken-fuzz: target reported a crash (status %d)\n", status);
    report();
    abort();
  }
  return 0;
}
