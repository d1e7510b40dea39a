/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A device's interrupt line into the guest: an Arm SPI through
 * xendevicemodel_set_irq_level or an x86 ISA IRQ through
 * xendevicemodel_set_isa_irq_level.
 *
 * Debian 12's Arm vGIC (the old one) ignores level 0 and injects one
 * interrupt per level-1 call, i.e. it behaves edge-like. So every call with
 * level true reaches Xen, even when the line is already high: each new
 * event must re-raise it or the guest misses it. Level false is passed on
 * only after a true (the new vGIC and the x86 vPIC/vIOAPIC do honour it).
 */
#include <errno.h>
#include <string.h>

#include "irq.h"
#include "log.h"

#define IRQ_ISA_COUNT 16u
#define IRQ_SPI_FIRST 32u
#define IRQ_SPI_END 1020u /* GICv2/v3 SPIs are 32..1019 */

int irq_line_init(struct irq_line *line, struct xen_handles *xh, uint16_t domid, uint32_t irq,
		  const char *name)
{
	bool isa;

	if (irq < IRQ_ISA_COUNT)
		isa = true;
	else if (irq >= IRQ_SPI_FIRST && irq < IRQ_SPI_END)
		isa = false;
	else
		return -EINVAL;

	*line = (struct irq_line){
		.dm = xh->dm,
		.domid = domid,
		.irq = irq,
		.isa = isa,
		.level = false,
		.failed_once = false,
		.name = name,
	};
	return 0;
}

static void irq_report_failure(struct irq_line *line, bool level, int err)
{
	const char *call = line->isa ? "xendevicemodel_set_isa_irq_level" :
				       "xendevicemodel_set_irq_level";

	if (line->failed_once) {
		log_guest(&line->fail_rl, LOG_LVL_WARNING, line->name, "%s(irq %u, level %d): %s",
			  call, line->irq, level, strerror(err));
		return;
	}
	line->failed_once = true;
	if (err == EOPNOTSUPP && !line->isa)
		log_err(line->name,
			"set_irq_level is not supported for this guest: is it an x86 guest with an SPI number? (irq %u)",
			line->irq);
	else if (err == EOPNOTSUPP)
		log_err(line->name,
			"set_isa_irq_level is not supported for this guest: is it an Arm guest with an ISA IRQ number? (irq %u)",
			line->irq);
	else
		log_err(line->name, "%s(irq %u, level %d): %s", call, line->irq, level,
			strerror(err));
}

void irq_line_set(struct irq_line *line, bool level)
{
	int rc;

	if (!level && !line->level)
		return;

	errno = 0;
	if (line->isa)
		rc = xendevicemodel_set_isa_irq_level(line->dm, line->domid, (uint8_t)line->irq,
						      level ? 1u : 0u);
	else
		rc = xendevicemodel_set_irq_level(line->dm, line->domid, line->irq,
						  level ? 1u : 0u);
	/* The line is what the device wants, whether or not Xen took it. */
	line->level = level;
	if (rc < 0)
		irq_report_failure(line, level, errno ? errno : EIO);
}
