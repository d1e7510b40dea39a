/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * src/xen/irq: which Xen call drives which line, re-raising on every event
 * (Debian 12's Arm vGIC injects once per level-1 call), lowering only after
 * a raise, invalid numbers, and failure logging.
 */
#include <errno.h>
#include <string.h>

#include "../../src/xen/irq.h"
#include "../../src/xen/xen_handles.h"
#include "check.h"
#include "fake_xen.h"
#include "guest_limits.h"
#include "log.h"

#define DOMID 4

static struct xen_handles xh;
static struct irq_line line;

static void setup(void)
{
	fake_xen_reset();
	log_setup(LOG_TO_STDERR, LOG_LVL_DEBUG);
	CHECK_EQ(xen_handles_open(&xh), 0);
}

static int count_substr(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

TEST(spi_uses_set_irq_level)
{
	setup();
	CHECK_EQ(irq_line_init(&line, &xh, DOMID, 33, "dom4/xvda"), 0);
	irq_line_set(&line, true);
	CHECK_EQ(fake_count(FAKE_SET_IRQ), 1);
	CHECK_EQ(fake_count(FAKE_SET_ISA_IRQ), 0);
	CHECK_EQ(fake_nth(FAKE_SET_IRQ, 0)->a[0], DOMID);
	CHECK_EQ(fake_nth(FAKE_SET_IRQ, 0)->a[1], 33);
	CHECK_EQ(fake_nth(FAKE_SET_IRQ, 0)->a[2], 1);
	xen_handles_close(&xh);
}

TEST(isa_irq_uses_set_isa_irq_level)
{
	setup();
	CHECK_EQ(irq_line_init(&line, &xh, DOMID, 5, "dom4/xvda"), 0);
	irq_line_set(&line, true);
	irq_line_set(&line, false);
	CHECK_EQ(fake_count(FAKE_SET_IRQ), 0);
	CHECK_EQ(fake_count(FAKE_SET_ISA_IRQ), 2);
	CHECK_EQ(fake_nth(FAKE_SET_ISA_IRQ, 0)->a[1], 5);
	CHECK_EQ(fake_nth(FAKE_SET_ISA_IRQ, 0)->a[2], 1);
	CHECK_EQ(fake_nth(FAKE_SET_ISA_IRQ, 1)->a[2], 0);
	xen_handles_close(&xh);
}

TEST(every_raise_reaches_xen)
{
	setup();
	CHECK_EQ(irq_line_init(&line, &xh, DOMID, 40, "dom4/xvda"), 0);
	irq_line_set(&line, true);
	irq_line_set(&line, true);
	irq_line_set(&line, true);
	CHECK_EQ(fake_count(FAKE_SET_IRQ), 3);
	for (unsigned i = 0; i < 3; i++)
		CHECK_EQ(fake_nth(FAKE_SET_IRQ, i)->a[2], 1);
	xen_handles_close(&xh);
}

TEST(lower_only_after_a_raise)
{
	setup();
	CHECK_EQ(irq_line_init(&line, &xh, DOMID, 40, "dom4/xvda"), 0);
	irq_line_set(&line, false); /* never raised: nothing to lower */
	CHECK_EQ(fake_count(FAKE_SET_IRQ), 0);
	irq_line_set(&line, true);
	irq_line_set(&line, false);
	CHECK_EQ(fake_count(FAKE_SET_IRQ), 2);
	CHECK_EQ(fake_nth(FAKE_SET_IRQ, 1)->a[2], 0);
	irq_line_set(&line, false);
	irq_line_set(&line, false);
	CHECK_EQ(fake_count(FAKE_SET_IRQ), 2);
	irq_line_set(&line, true);
	CHECK_EQ(fake_count(FAKE_SET_IRQ), 3);
	xen_handles_close(&xh);
}

TEST(irq_numbers_are_validated)
{
	static const uint32_t bad[] = { 16, 20, 31, 1020, 1021, 5000, UINT32_MAX };
	static const uint32_t good[] = { 0, 15, 32, 1019 };

	setup();
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(irq_line_init(&line, &xh, DOMID, bad[i], "x"), -EINVAL);
	for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECK_EQ(irq_line_init(&line, &xh, DOMID, good[i], "x"), 0);
		CHECK_EQ(line.isa, good[i] < 16);
		CHECK_EQ(line.irq, good[i]);
		CHECK(!line.level);
	}
	/* init makes no Xen call */
	CHECK_EQ(fake_count(FAKE_SET_IRQ) + fake_count(FAKE_SET_ISA_IRQ), 0);
	xen_handles_close(&xh);
}

TEST(eopnotsupp_explains_and_is_logged_once)
{
	const char *log;

	setup();
	CHECK_EQ(irq_line_init(&line, &xh, DOMID, 33, "dom4/xvda"), 0);
	fake_fail(FAKE_SET_IRQ, EOPNOTSUPP, 0);
	fake_log_capture_begin();
	for (unsigned i = 0; i < 5 * GUEST_LOG_BURST; i++)
		irq_line_set(&line, true);
	log = fake_log_capture_end();
	CHECK_EQ(count_substr(log,
			      "set_irq_level is not supported for this guest: is it an x86 guest with an SPI number?"),
		 1);
	CHECK(strstr(log, "dom4/xvda"));
	/* Later failures are rate-limited. */
	CHECK(count_substr(log, "\n") <= 1 + (int)GUEST_LOG_BURST);
	/* Still tried every time: the next event may succeed. */
	CHECK_EQ(fake_count(FAKE_SET_IRQ), 5 * GUEST_LOG_BURST);
	xen_handles_close(&xh);
}

TEST(other_failures_name_the_call)
{
	const char *log;

	setup();
	CHECK_EQ(irq_line_init(&line, &xh, DOMID, 7, "dom4/xvdb"), 0);
	fake_fail(FAKE_SET_ISA_IRQ, EPERM, 0);
	fake_log_capture_begin();
	irq_line_set(&line, true);
	log = fake_log_capture_end();
	CHECK(strstr(log, "xendevicemodel_set_isa_irq_level"));
	CHECK(strstr(log, "Operation not permitted"));
	CHECK(line.failed_once);
	/* The line is what the device asked for: a lower still follows. */
	fake_fail(FAKE_SET_ISA_IRQ, 0, 0);
	irq_line_set(&line, false);
	CHECK_EQ(fake_count(FAKE_SET_ISA_IRQ), 2);
	xen_handles_close(&xh);
}
