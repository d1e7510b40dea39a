/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Simulated domains: creation and death, guest RAM (a sparse memfd mapped
 * at SIM_GUEST_RAM_BASE; secret memory where the kernel has it, so that
 * O_DIRECT into it fails as into Xen's foreign mappings), vCPUs, interrupt lines (set_irq_level,
 * set_isa_irq_level) and the dm_op that reports the vCPU count.
 */
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
	for (unsigned v = 0; g->vcpus && v < g->nr_vcpus; v++)
		pthread_cond_destroy(&g->vcpus[v].cond);
	free(g->vcpus);
	free(g->gports);
	pthread_cond_destroy(&g->irq_cond);
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
	g->ram_fd = -1;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->irq_cond, &ca);
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
 * XEN_DMOP_set_irq_level (Arm: SPIs only, 32 <= irq < vgic_num_irqs,
 * level 0/1) and XEN_DMOP_set_isa_irq_level (x86: irq 0..15, level 0/1).
 */
int sim_dm_set_irq_locked(struct sim_conn *c, uint32_t domid, uint64_t irq, uint64_t level,
			  bool isa)
{
	struct sim_guest *g = sim_guest_find_locked(c->sim, domid);

	if (!g)
		return -ESRCH;
	if (level > 1)
		return -EINVAL;
	if (isa ? irq >= 16 : (irq < 32 || irq >= SIM_GUEST_NR_IRQS))
		return -EINVAL;
	g->irqs[irq].level = level;
	if (level)
		g->irqs[irq].edges++;
	pthread_cond_broadcast(&g->irq_cond);
	return 0;
}

uint64_t sim_irq_count(struct sim_guest *g, unsigned irq)
{
	uint64_t n = 0;

	pthread_mutex_lock(&g->sim->lock);
	if (irq < SIM_GUEST_NR_IRQS)
		n = g->irqs[irq].edges;
	pthread_mutex_unlock(&g->sim->lock);
	return n;
}

bool sim_irq_level(struct sim_guest *g, unsigned irq)
{
	bool level = false;

	pthread_mutex_lock(&g->sim->lock);
	if (irq < SIM_GUEST_NR_IRQS)
		level = g->irqs[irq].level;
	pthread_mutex_unlock(&g->sim->lock);
	return level;
}

int sim_irq_wait(struct sim_guest *g, unsigned irq, uint64_t seen, unsigned timeout_ms)
{
	struct timespec ts;
	int rc = 0;

	if (irq >= SIM_GUEST_NR_IRQS)
		return -EINVAL;
	sim_deadline(&ts, timeout_ms);
	pthread_mutex_lock(&g->sim->lock);
	while (g->irqs[irq].edges <= seen) {
		if (pthread_cond_timedwait(&g->irq_cond, &g->sim->lock, &ts) == ETIMEDOUT) {
			rc = g->irqs[irq].edges > seen ? 0 : -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&g->sim->lock);
	return rc;
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
