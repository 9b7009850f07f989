/* LD_PRELOAD shim for the power-loss test (tests/crash.rs): it remembers what each write to
 * a database file overwrote, forgets it when the file is fsync'ed, and when the file named by
 * $BATON_SHIM_CRASH_FILE appears it writes the writes not yet synced to
 * $BATON_SHIM_CRASH_FILE.undo and ends the process at once (_exit(137)). The test then puts
 * those bytes back, as if the machine had lost power: only what was fsync'ed remains. (Undoing
 * after the process is gone, not inside it, so no thread of it reads a file being rewound.)
 *
 * Tracked files are those whose path ends with ".db" or ".db-wal". Writers hold one lock while
 * they write and record; the crash thread takes the same lock and never gives it back, so no
 * write is half-recorded and none follows. An fsync clears its file's records only after the
 * real fsync has returned, so a write the application could have been told is durable is never
 * undone.
 *
 * .undo holds one record per unsynced write, newest first: u64 path length, path, u64 offset,
 * u64 file size before the write, u64 n, then the n bytes the write overwrote (all little
 * endian). It also writes "fsyncs=N undone=M" to $BATON_SHIM_CRASH_FILE.done. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

struct undo {
    int fd;
    off_t offset;
    off_t old_size;
    size_t len;
    char *old; /* the bytes the write overwrote (those below old_size) */
    struct undo *prev;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct undo *last = NULL;
static long fsyncs = 0;
static char tracked[4096];
static char *paths[4096];

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_close)(int);

static int is_tracked(int fd) {
    if (fd < 0 || fd >= (int)sizeof(tracked)) return 0;
    if (tracked[fd] == 0) {
        char link[64], path[4096];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, path, sizeof path - 1);
        int yes = 0;
        if (n > 0) {
            path[n] = 0;
            size_t l = (size_t)n;
            yes = (l > 3 && strcmp(path + l - 3, ".db") == 0) ||
                  (l > 7 && strcmp(path + l - 7, ".db-wal") == 0);
        }
        tracked[fd] = yes ? 1 : 2;
        if (yes) {
            free(paths[fd]);
            paths[fd] = strdup(path);
        }
    }
    return tracked[fd] == 1;
}

/* Called with the lock held, before the write. */
static void remember(int fd, size_t len, off_t offset) {
    struct stat st;
    if (fstat(fd, &st) != 0) return;
    struct undo *u = calloc(1, sizeof *u);
    u->fd = fd;
    u->offset = offset;
    u->old_size = st.st_size;
    u->len = len;
    if (offset < st.st_size) {
        size_t keep = (size_t)(st.st_size - offset) < len ? (size_t)(st.st_size - offset) : len;
        u->old = malloc(keep);
        ssize_t got = pread(fd, u->old, keep, offset);
        u->len = got > 0 ? (size_t)got : 0;
    } else {
        u->len = 0;
    }
    u->prev = last;
    last = u;
}

static void forget(int fd) {
    struct undo **p = &last;
    while (*p) {
        struct undo *u = *p;
        if (u->fd == fd) {
            *p = u->prev;
            free(u->old);
            free(u);
        } else {
            p = &u->prev;
        }
    }
}

static void *crash_watch(void *arg) {
    const char *file = arg;
    for (;;) {
        if (access(file, F_OK) == 0) break;
        usleep(5000);
    }
    pthread_mutex_lock(&lock);
    long undone = 0;
    char name[4200];
    snprintf(name, sizeof name, "%s.undo", file);
    FILE *undo = fopen(name, "w");
    for (struct undo *u = last; u && undo; u = u->prev) {
        if (u->fd < 0 || !paths[u->fd]) continue;
        uint64_t n = strlen(paths[u->fd]);
        uint64_t head[4] = {n, 0, 0, 0};
        fwrite(&head[0], 8, 1, undo);
        fwrite(paths[u->fd], 1, n, undo);
        head[1] = (uint64_t)u->offset;
        head[2] = (uint64_t)u->old_size;
        head[3] = (uint64_t)u->len;
        fwrite(&head[1], 8, 3, undo);
        if (u->len > 0) fwrite(u->old, 1, u->len, undo);
        undone++;
    }
    if (undo) fclose(undo);
    snprintf(name, sizeof name, "%s.done", file);
    FILE *f = fopen(name, "w");
    if (f) {
        fprintf(f, "fsyncs=%ld undone=%ld\n", fsyncs, undone);
        fclose(f);
    }
    _exit(137);
    return NULL;
}

__attribute__((constructor)) static void init(void) {
    real_write = dlsym(RTLD_NEXT, "write");
    real_pwrite = dlsym(RTLD_NEXT, "pwrite");
    real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_close = dlsym(RTLD_NEXT, "close");
    const char *file = getenv("BATON_SHIM_CRASH_FILE");
    if (file) {
        pthread_t t;
        pthread_create(&t, NULL, crash_watch, strdup(file));
        pthread_detach(t);
    }
}

ssize_t write(int fd, const void *buf, size_t n) {
    if (!is_tracked(fd)) return real_write(fd, buf, n);
    pthread_mutex_lock(&lock);
    remember(fd, n, lseek(fd, 0, SEEK_CUR));
    ssize_t r = real_write(fd, buf, n);
    pthread_mutex_unlock(&lock);
    return r;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t offset) {
    if (!is_tracked(fd)) return real_pwrite(fd, buf, n, offset);
    pthread_mutex_lock(&lock);
    remember(fd, n, offset);
    ssize_t r = real_pwrite(fd, buf, n, offset);
    pthread_mutex_unlock(&lock);
    return r;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t offset) {
    if (!is_tracked(fd)) return real_pwrite64(fd, buf, n, offset);
    pthread_mutex_lock(&lock);
    remember(fd, n, offset);
    ssize_t r = real_pwrite64(fd, buf, n, offset);
    pthread_mutex_unlock(&lock);
    return r;
}

static int synced(int fd, int r) {
    if (r == 0 && is_tracked(fd)) {
        pthread_mutex_lock(&lock);
        fsyncs++;
        forget(fd);
        pthread_mutex_unlock(&lock);
    }
    return r;
}

/* A slow disk: each sync of a tracked file takes 2 ms more, so the crash often falls between a
 * commit's writes and its fsync, the moment a missing or misplaced fsync would lose data. */
static void slow_disk(int fd) {
    if (is_tracked(fd)) usleep(2000);
}

int fsync(int fd) {
    slow_disk(fd);
    return synced(fd, real_fsync(fd));
}

int fdatasync(int fd) {
    slow_disk(fd);
    return synced(fd, real_fdatasync(fd));
}

/* A closed file's unsynced writes can no longer be undone through its descriptor (which may be
 * reused for another file): SQLite closes database files only when it shuts down. */
int close(int fd) {
    if (fd >= 0 && fd < (int)sizeof(tracked) && tracked[fd] == 1) {
        pthread_mutex_lock(&lock);
        for (struct undo *u = last; u; u = u->prev)
            if (u->fd == fd) u->fd = -1;
        pthread_mutex_unlock(&lock);
    }
    if (fd >= 0 && fd < (int)sizeof(tracked)) tracked[fd] = 0;
    return real_close(fd);
}
