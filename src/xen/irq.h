/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A device's interrupt line into the guest. irq >= 32 is an Arm SPI
 * (xendevicemodel_set_irq_level); irq < 16 is an x86 ISA IRQ
 * (xendevicemodel_set_isa_irq_level). Debian 12's Arm vGIC ignores level 0
 * and injects on every level-1 call, so every new event re-raises.
 */
#ifndef XVB_IRQ_H
#define XVB_IRQ_H

#include <stdbool.h>
#include <stdint.h>

#include "log.h"
#include "xen_handles.h"

struct irq_line {
	xendevicemodel_handle *dm;
	uint16_t domid;
	uint32_t irq;
	bool isa;
	bool level;       /* last level driven */
	bool failed_once; /* error already logged */
	/* Failures after the first (a host configuration problem repeated per
	 * event, or a guest being destroyed) are rate-limited per line. */
	struct log_ratelimit fail_rl;
	const char *name;
};

/* -EINVAL for an irq that is neither an ISA IRQ (0-15) nor an SPI (32-1019). */
int irq_line_init(struct irq_line *line, struct xen_handles *xh, uint16_t domid, uint32_t irq,
		  const char *name);
void irq_line_set(struct irq_line *line, bool level);

#endif
