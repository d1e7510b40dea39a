/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Simulated domains: creation and death, guest RAM (a sparse memfd mapped
 * at SIM_GUEST_RAM_BASE; secret memory where the kernel has it, so that
 * O_DIRECT into it fails as into Xen's foreign mappings), vCPUs, interrupt lines (set_irq_level,
 * set_isa_irq_level, done by the stand-in on a page shared with it; see
 * sim_shared.h) and the dm_op that reports the vCPU count.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sim_internal.h"

#define SIM_FIRST_RESERVED_DOMID 0x7ff0u /* DOMID_FIRST_RESERVED */
#define SIM_MAX_RAM (1ull << 40)

static_assert(SIM_IRQ_LINES == SIM_GUEST_NR_IRQS, "the shared irq page covers every line");

struct sim_guest *sim_guest_find_locked(struct sim *sim, uint32_t domid)
{
	for (struct sim_guest *g = sim->guests; g; g = g->next) {
		if (g->domid == domid)
			return g;
	}
	return NULL;
}

/*
 * Guest RAM that O_DIRECT cannot reach, as on real Xen: there a foreign
 * mapping is VM_PFNMAP and get_user_pages() refuses it, so O_DIRECT I/O
 * into guest memory fails with EFAULT. A memfd_secret() (Linux 5.14+) is
 * the same for GUP (secretmem pages are never pinned) while ordinary loads,
 * stores and buffered read()/write() work. Where the kernel lacks it (or
 * XENSIM_PLAIN_RAM is set) a plain memfd, which O_DIRECT can reach.
 */
static int guest_ram_fd(const char *name)
{
#ifdef SYS_memfd_secret
	if (!getenv("XENSIM_PLAIN_RAM")) {
		int fd = (int)syscall(SYS_memfd_secret, (unsigned int)O_CLOEXEC);

		if (fd >= 0)
			return fd;
	}
#endif
	return memfd_create(name, MFD_CLOEXEC);
}

static void guest_free(struct sim_guest *g)
{
	if (!g)
		return;
	if (g->ram && g->ram != MAP_FAILED)
		munmap(g->ram, g->ram_bytes);
	if (g->ram_fd >= 0)
		close(g->ram_fd);
	if (g->irq && g->irq != MAP_FAILED)
		munmap(g->irq, sizeof(*g->irq));
	if (g->irq_fd >= 0)
		close(g->irq_fd);
	for (unsigned v = 0; g->vcpus && v < g->nr_vcpus; v++)
		pthread_cond_destroy(&g->vcpus[v].cond);
	free(g->vcpus);
	free(g->gports);
	pthread_cond_destroy(&g->state_cond);
	free(g);
}

int sim_guest_create(struct sim *sim, uint16_t domid, uint64_t ram_bytes, unsigned nr_vcpus,
		     struct sim_guest **out)
{
	struct sim_guest *g;
	pthread_condattr_t ca;
	char name[32];
	int rc;

	*out = NULL;
	if (domid == 0 || domid >= SIM_FIRST_RESERVED_DOMID || nr_vcpus == 0 ||
	    nr_vcpus > SIM_GUEST_MAX_VCPUS || ram_bytes == 0 || ram_bytes % SIM_PAGE_SIZE ||
	    ram_bytes > SIM_MAX_RAM)
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->sim = sim;
	g->domid = domid;
	g->nr_vcpus = nr_vcpus;
	g->ram_bytes = ram_bytes;
	g->ram_fd = g->irq_fd = -1;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->state_cond, &ca);
	g->vcpus = calloc(nr_vcpus, sizeof(*g->vcpus));
	if (!g->vcpus) {
		pthread_condattr_destroy(&ca);
		rc = -ENOMEM;
		goto err;
	}
	for (unsigned v = 0; v < nr_vcpus; v++)
		pthread_cond_init(&g->vcpus[v].cond, &ca);
	pthread_condattr_destroy(&ca);

	snprintf(name, sizeof(name), "xensim-dom%u-ram", domid);
	g->ram_fd = guest_ram_fd(name);
	if (g->ram_fd < 0 || ftruncate(g->ram_fd, (off_t)ram_bytes) < 0) {
		rc = -errno;
		goto err;
	}
	g->ram = mmap(NULL, ram_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		      g->ram_fd, 0);
	if (g->ram == MAP_FAILED) {
		rc = -errno;
		goto err;
	}
	snprintf(name, sizeof(name), "xensim-dom%u-irq", domid);
	g->irq_fd = memfd_create(name, MFD_CLOEXEC);
	if (g->irq_fd < 0 || ftruncate(g->irq_fd, sizeof(*g->irq)) < 0) {
		rc = -errno;
		goto err;
	}
	g->irq = mmap(NULL, sizeof(*g->irq), PROT_READ | PROT_WRITE, MAP_SHARED, g->irq_fd, 0);
	if (g->irq == MAP_FAILED) {
		rc = -errno;
		goto err;
	}

	pthread_mutex_lock(&sim->lock);
	if (sim_guest_find_locked(sim, domid)) {
		pthread_mutex_unlock(&sim->lock);
		rc = -EEXIST;
		goto err;
	}
	g->gen = sim->next_gen++;
	g->next = sim->guests;
	sim->guests = g;
	pthread_mutex_unlock(&sim->lock);
	sim_xs_introduce(sim, domid);
	*out = g;
	return 0;
err:
	guest_free(g);
	return rc;
}

void sim_guest_destroy(struct sim_guest *g)
{
	struct sim *sim;
	struct sim_guest **pp;

	if (!g)
		return;
	sim = g->sim;
	pthread_mutex_lock(&sim->lock);
	/* Xen: domain_kill -> ioreq_server_destroy_all; the emulator's ports
	 * to this guest lose their remote end. */
	for (unsigned i = SIM_MAX_SERVERS; i-- > 0;) {
		if (g->servers[i])
			sim_server_destroy_locked(g->servers[i]);
	}
	for (uint32_t p = 1; p < SIM_MAX_LPORTS; p++) {
		if (sim->lports[p] && sim->lports[p]->g == g)
			sim->lports[p]->g = NULL;
	}
	for (pp = &sim->guests; *pp; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	/* Handles that mapped its interrupt page ask again: ESRCH from now. */
	__atomic_store_n(&g->irq->dead, 1u, __ATOMIC_RELEASE);
	sim_futex_bump(&g->irq->seq);
	pthread_mutex_unlock(&sim->lock);
	sim_xs_release(sim, g->domid);
	guest_free(g);
}

uint16_t sim_guest_domid(const struct sim_guest *g)
{
	return g->domid;
}

void *sim_guest_ram(struct sim_guest *g, uint64_t gpa, uint64_t len)
{
	uint64_t off;

	if (gpa < SIM_GUEST_RAM_BASE)
		return NULL;
	off = gpa - SIM_GUEST_RAM_BASE;
	if (off > g->ram_bytes || len > g->ram_bytes - off)
		return NULL;
	return g->ram + off;
}

uint64_t sim_guest_ram_size(const struct sim_guest *g)
{
	return g->ram_bytes;
}

int sim_dm_nr_vcpus_locked(struct sim_conn *c, uint32_t domid, uint64_t *out)
{
	struct sim_guest *g = sim_guest_find_locked(c->sim, domid);

	if (!g)
		return -ESRCH;
	*out = g->nr_vcpus;
	return 0;
}

/*
 * The interrupt page of a guest: XEN_DMOP_set_irq_level and
 * set_isa_irq_level are done on it by the stand-in (stub_devicemodel.c).
 */
int sim_dm_irq_page_locked(struct sim_conn *c, uint32_t domid, int *fd_out)
{
	struct sim_guest *g = sim_guest_find_locked(c->sim, domid);

	if (c->kind != SIM_KIND_DM)
		return -EBADF;
	if (!g)
		return -ESRCH;
	*fd_out = g->irq_fd;
	return 0;
}

uint64_t sim_irq_count(struct sim_guest *g, unsigned irq)
{
	if (irq >= SIM_GUEST_NR_IRQS)
		return 0;
	return __atomic_load_n(&g->irq->line[irq].edges, __ATOMIC_ACQUIRE);
}

bool sim_irq_level(struct sim_guest *g, unsigned irq)
{
	if (irq >= SIM_GUEST_NR_IRQS)
		return false;
	return __atomic_load_n(&g->irq->line[irq].level, __ATOMIC_ACQUIRE) != 0;
}

int sim_irq_wait(struct sim_guest *g, unsigned irq, uint64_t seen, unsigned timeout_ms)
{
	uint64_t deadline = sim_now_ms() + timeout_ms;

	if (irq >= SIM_GUEST_NR_IRQS)
		return -EINVAL;
	for (;;) {
		/* The sequence first: a raise changes the edges, then the sequence. */
		uint32_t seq = __atomic_load_n(&g->irq->seq, __ATOMIC_ACQUIRE);
		uint64_t now;

		if (__atomic_load_n(&g->irq->line[irq].edges, __ATOMIC_ACQUIRE) > seen)
			return 0;
		now = sim_now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		sim_futex_wait(&g->irq->seq, seq, (unsigned)(deadline - now));
	}
}

int sim_wait_claimed(struct sim_guest *g, uint64_t addr, unsigned timeout_ms)
{
	ioreq_t probe = { .addr = addr, .size = 1, .count = 1, .type = IOREQ_TYPE_COPY };
	struct timespec ts;
	int rc = 0;

	sim_deadline(&ts, timeout_ms);
	pthread_mutex_lock(&g->sim->lock);
	for (;;) {
		struct sim_server *s = sim_ioreq_select_locked(g, &probe, true);

		if (s && sim_server_serving_locked(s))
			break;
		if (pthread_cond_timedwait(&g->state_cond, &g->sim->lock, &ts) == ETIMEDOUT) {
			s = sim_ioreq_select_locked(g, &probe, true);
			rc = s && sim_server_serving_locked(s) ? 0 : -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&g->sim->lock);
	return rc;
}
