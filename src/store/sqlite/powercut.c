/*
 * sqlite/powercut.c: a SQLite VFS that simulates a power cut, compiled only
 * into test builds (meson -Dfaults=true) and installed only when
 * PRIVREG_POWERCUT is set (base/fault.h).
 *
 * It wraps the default VFS. For each database, WAL and journal file it
 * remembers the writes since the file was last synced (each write's offset,
 * the bytes it replaced and the bytes it wrote) and the file's size at that
 * sync. At the Nth write or sync of the process (counted in base/fault.c)
 * the power goes instead: every file is put back as it was at its last sync
 * (the writes undone in reverse order, the size restored); with a seed, a
 * random part of the writes since is then replayed in order, as a disk may
 * have written some of them before the cut; and the process ends at once
 * with FAULT_POWERCUT_EXIT. Whatever was acknowledged before the cut had
 * been synced, so it must still be there when the register is opened again.
 *
 * The -shm file is not tracked: SQLite rebuilds it from the WAL when the
 * first connection opens the database. Creating and deleting files is not
 * modelled (the directory entries are taken as durable). All tracked I/O is
 * serialised under one mutex, so that a cut never falls inside a write.
 */
#include "store/sqlite/internal.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fault.h"

struct pc_write {
	sqlite3_int64 off;
	int len;
	unsigned char *before, *after;
};

/* One tracked path: shared by every connection's handle on it, since a
 * sync through any handle makes the whole file durable. */
struct pc_track {
	char *path;
	sqlite3_int64 synced_size;
	struct pc_write *w;
	size_t n, alloc;
	struct pc_track *next;
};

struct pc_file {
	sqlite3_file base;
	struct pc_track *track;     /* NULL: passed through untracked */
	sqlite3_file *real;         /* follows this struct in the same block */
};

static pthread_mutex_t pc_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pc_track *pc_tracks;
static sqlite3_vfs *pc_real;
static uint64_t pc_rand;

static uint64_t pc_next(void)
{
	/* xorshift64: enough to pick which writes survive. */
	pc_rand ^= pc_rand << 13;
	pc_rand ^= pc_rand >> 7;
	pc_rand ^= pc_rand << 17;
	return pc_rand;
}

static void pc_forget(struct pc_track *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->w[i].before);
		free(t->w[i].after);
	}
	t->n = 0;
}

/* The cut: every tracked file back to its last sync, a random part of the
 * later writes replayed with a seed, then the process ends. Called with
 * pc_mu held; never returns. */
static void pc_cut(void)
{
	uint64_t seed = 0;
	(void)fault_powercut_armed(&seed);
	pc_rand = seed ? seed : 1;
	for (struct pc_track *t = pc_tracks; t; t = t->next) {
		int fd = open(t->path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		for (size_t i = t->n; i-- > 0;)
			(void)!pwrite(fd, t->w[i].before, (size_t)t->w[i].len, t->w[i].off);
		(void)!ftruncate(fd, t->synced_size);
		for (size_t i = 0; seed && i < t->n; i++)
			if (pc_next() & 1)
				(void)!pwrite(fd, t->w[i].after, (size_t)t->w[i].len, t->w[i].off);
		fsync(fd);
		close(fd);
	}
	_exit(FAULT_POWERCUT_EXIT);
}

static struct pc_track *pc_track_for(const char *path)
{
	for (struct pc_track *t = pc_tracks; t; t = t->next)
		if (!strcmp(t->path, path))
			return t;
	struct pc_track *t = xcalloc(1, sizeof *t);
	struct stat st;
	t->path = xstrdup(path);
	t->synced_size = stat(path, &st) == 0 ? st.st_size : 0;
	t->next = pc_tracks;
	pc_tracks = t;
	return t;
}

static int pc_close(sqlite3_file *f)
{
	struct pc_file *p = (struct pc_file *)f;
	return p->real->pMethods ? p->real->pMethods->xClose(p->real) : SQLITE_OK;
}

static int pc_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
	struct pc_file *p = (struct pc_file *)f;
	return p->real->pMethods->xRead(p->real, buf, amt, off);
}

static int pc_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
	struct pc_file *p = (struct pc_file *)f;
	if (!p->track)
		return p->real->pMethods->xWrite(p->real, buf, amt, off);
	pthread_mutex_lock(&pc_mu);
	if (fault_powercut())
		pc_cut();
	struct pc_track *t = p->track;
	struct pc_write w = {off, amt, xcalloc(1, (size_t)amt), xmemdup(buf, (size_t)amt)};
	int rc = p->real->pMethods->xRead(p->real, w.before, amt, off);
	if (rc == SQLITE_OK || rc == SQLITE_IOERR_SHORT_READ)
		rc = p->real->pMethods->xWrite(p->real, buf, amt, off);
	if (rc == SQLITE_OK) {
		if (t->n == t->alloc) {
			t->alloc = t->alloc ? 2 * t->alloc : 64;
			t->w = xrealloc(t->w, t->alloc * sizeof *t->w);
		}
		t->w[t->n++] = w;
	} else {
		free(w.before);
		free(w.after);
	}
	pthread_mutex_unlock(&pc_mu);
	return rc;
}

static int pc_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct pc_file *p = (struct pc_file *)f;
	if (!p->track)
		return p->real->pMethods->xTruncate(p->real, size);
	pthread_mutex_lock(&pc_mu);
	struct pc_track *t = p->track;
	sqlite3_int64 cur = 0;
	int rc = p->real->pMethods->xFileSize(p->real, &cur);
	if (rc == SQLITE_OK && cur > size && cur - size < (1 << 30)) {
		/* The cut tail is kept as a write of its old bytes, so that
		 * undoing it puts them back. */
		int len = (int)(cur - size);
		struct pc_write w = {size, len, xcalloc(1, (size_t)len), NULL};
		rc = p->real->pMethods->xRead(p->real, w.before, len, size);
		w.after = xcalloc(1, (size_t)len);
		if (t->n == t->alloc) {
			t->alloc = t->alloc ? 2 * t->alloc : 64;
			t->w = xrealloc(t->w, t->alloc * sizeof *t->w);
		}
		t->w[t->n++] = w;
		rc = rc == SQLITE_IOERR_SHORT_READ ? SQLITE_OK : rc;
	}
	if (rc == SQLITE_OK)
		rc = p->real->pMethods->xTruncate(p->real, size);
	pthread_mutex_unlock(&pc_mu);
	return rc;
}

static int pc_sync(sqlite3_file *f, int flags)
{
	struct pc_file *p = (struct pc_file *)f;
	if (!p->track)
		return p->real->pMethods->xSync(p->real, flags);
	pthread_mutex_lock(&pc_mu);
	if (fault_powercut())
		pc_cut();
	int rc = p->real->pMethods->xSync(p->real, flags);
	if (rc == SQLITE_OK) {
		sqlite3_int64 size = 0;
		pc_forget(p->track);
		if (p->real->pMethods->xFileSize(p->real, &size) == SQLITE_OK)
			p->track->synced_size = size;
	}
	pthread_mutex_unlock(&pc_mu);
	return rc;
}

static int pc_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	struct pc_file *p = (struct pc_file *)f;
	return p->real->pMethods->xFileSize(p->real, size);
}

static int pc_lock(sqlite3_file *f, int lock)
{
	struct pc_file *p = (struct pc_file *)f;
	return p->real->pMethods->xLock(p->real, lock);
}

static int pc_unlock(sqlite3_file *f, int lock)
{
	struct pc_file *p = (struct pc_file *)f;
	return p->real->pMethods->xUnlock(p->real, lock);
}

static int pc_check_reserved(sqlite3_file *f, int *out)
{
	struct pc_file *p = (struct pc_file *)f;
	return p->real->pMethods->xCheckReservedLock(p->real, out);
}

static int pc_file_control(sqlite3_file *f, int op, void *arg)
{
	struct pc_file *p = (struct pc_file *)f;
	return p->real->pMethods->xFileControl(p->real, op, arg);
}

static int pc_sector_size(sqlite3_file *f)
{
	struct pc_file *p = (struct pc_file *)f;
	return p->real->pMethods->xSectorSize(p->real);
}

static int pc_device(sqlite3_file *f)
{
	struct pc_file *p = (struct pc_file *)f;
	return p->real->pMethods->xDeviceCharacteristics(p->real);
}

static int pc_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **out)
{
	struct pc_file *p = (struct pc_file *)f;
	return p->real->pMethods->xShmMap(p->real, pg, pgsz, extend, out);
}

static int pc_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	struct pc_file *p = (struct pc_file *)f;
	return p->real->pMethods->xShmLock(p->real, offset, n, flags);
}

static void pc_shm_barrier(sqlite3_file *f)
{
	struct pc_file *p = (struct pc_file *)f;
	p->real->pMethods->xShmBarrier(p->real);
}

static int pc_shm_unmap(sqlite3_file *f, int del)
{
	struct pc_file *p = (struct pc_file *)f;
	return p->real->pMethods->xShmUnmap(p->real, del);
}

static int pc_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **out)
{
	/* No memory-mapped reads: every read goes through xRead. */
	(void)f;
	(void)off;
	(void)amt;
	*out = NULL;
	return SQLITE_OK;
}

static int pc_unfetch(sqlite3_file *f, sqlite3_int64 off, void *page)
{
	(void)f;
	(void)off;
	(void)page;
	return SQLITE_OK;
}

static const sqlite3_io_methods pc_methods = {
	3, pc_close, pc_read, pc_write, pc_truncate, pc_sync, pc_file_size, pc_lock, pc_unlock, pc_check_reserved,
	pc_file_control, pc_sector_size, pc_device, pc_shm_map, pc_shm_lock, pc_shm_barrier, pc_shm_unmap, pc_fetch,
	pc_unfetch,
};

static int pc_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags, int *out_flags)
{
	struct pc_file *p = (struct pc_file *)f;
	(void)vfs;
	memset(p, 0, sizeof *p);
	p->real = (sqlite3_file *)(p + 1);
	int rc = pc_real->xOpen(pc_real, name, p->real, flags, out_flags);
	if (rc != SQLITE_OK)
		return rc;
	if (name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL))) {
		pthread_mutex_lock(&pc_mu);
		p->track = pc_track_for(name);
		pthread_mutex_unlock(&pc_mu);
	}
	p->base.pMethods = &pc_methods;
	return SQLITE_OK;
}

static int pc_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	(void)vfs;
	pthread_mutex_lock(&pc_mu);
	for (struct pc_track *t = pc_tracks; t; t = t->next)
		if (!strcmp(t->path, name)) {
			pc_forget(t);
			t->synced_size = 0;
		}
	int rc = pc_real->xDelete(pc_real, name, sync_dir);
	pthread_mutex_unlock(&pc_mu);
	return rc;
}

static int pc_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return pc_real->xAccess(pc_real, name, flags, out);
}

static int pc_full_path(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return pc_real->xFullPathname(pc_real, name, n, out);
}

static int pc_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return pc_real->xRandomness(pc_real, n, out);
}

static int pc_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return pc_real->xSleep(pc_real, us);
}

static int pc_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return pc_real->xCurrentTime(pc_real, out);
}

static int pc_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return pc_real->xGetLastError ? pc_real->xGetLastError(pc_real, n, out) : 0;
}

static int pc_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	(void)vfs;
	return pc_real->xCurrentTimeInt64(pc_real, out);
}

enum rc sqlite_powercut_install(void)
{
	static sqlite3_vfs vfs;
	uint64_t seed;
	if (!fault_powercut_armed(&seed))
		return RC_OK;
	pc_real = sqlite3_vfs_find(NULL);
	if (!pc_real)
		return RC_INTERNAL;
	vfs.iVersion = 2;
	vfs.szOsFile = (int)sizeof(struct pc_file) + pc_real->szOsFile;
	vfs.mxPathname = pc_real->mxPathname;
	vfs.zName = "privreg-powercut";
	vfs.xOpen = pc_open;
	vfs.xDelete = pc_delete;
	vfs.xAccess = pc_access;
	vfs.xFullPathname = pc_full_path;
	vfs.xRandomness = pc_randomness;
	vfs.xSleep = pc_sleep;
	vfs.xCurrentTime = pc_time;
	vfs.xGetLastError = pc_last_error;
	vfs.xCurrentTimeInt64 = pc_time64;
	return sqlite3_vfs_register(&vfs, 1) == SQLITE_OK ? RC_OK : RC_INTERNAL;
}
