/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The virtio-mmio register file (virtio 1.2 §4.2.2 version 2; §4.2.4
 * legacy version 1), decoded through one table indexed by offset / 4.
 * Every guest access ends here; none can fail the daemon: anything the
 * table does not allow reads as 0 or is ignored, with a rate-limited log.
 */
#include <endian.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "compiler.h"
#include "mmio.h"

#define REG_R (1u << 0)
#define REG_W (1u << 1)
#define REG_V1 (1u << 2) /* exists in legacy (version 1) */
#define REG_V2 (1u << 3) /* exists in modern (version 2) */
#define REG_BOTH (REG_V1 | REG_V2)

#define LEGACY_QUEUE_ALIGN_DEFAULT 4096u
#define LEGACY_PAGE_SIZE_DEFAULT 4096u

struct mmio_reg {
	const char *name;
	uint32_t flags;
	uint32_t (*read)(struct virtio_mmio *m);
	void (*write)(struct virtio_mmio *m, uint32_t val);
};

#define guest_warn(m, ...) \
	log_guest(&(m)->vdev->guest_log, LOG_LVL_WARNING, (m)->vdev->name, __VA_ARGS__)

static bool is_pow2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

/* The selected queue, or NULL when QueueSel is out of range. */
static struct virtq *sel_vq(struct virtio_mmio *m)
{
	if (m->queue_sel >= m->vdev->num_queues)
		return NULL;
	return &m->vdev->vq[m->queue_sel];
}

/*
 * Queue configuration may change only while the queue is not ready and
 * the rings are not in use (§4.2.3.2); otherwise num or an address would
 * change under a mapped ring.
 */
static struct virtq *sel_vq_configurable(struct virtio_mmio *m, const char *reg)
{
	struct virtq *vq = sel_vq(m);

	if (!vq) {
		guest_warn(m, "%s: QueueSel %u out of range: ignored", reg, m->queue_sel);
		return NULL;
	}
	if (vq->ready || vq->started || (virtio_dev_status(m->vdev) & VIRTIO_CONFIG_S_DRIVER_OK)) {
		guest_warn(m, "%s: queue %u is in use: ignored", reg, m->queue_sel);
		return NULL;
	}
	return vq;
}

/* Queue size and ring placement, checked when the driver enables a queue. */
static bool queue_layout_ok(const struct virtq *vq)
{
	return vq->num != 0 && vq->num <= VIRTQ_MAX_SIZE && is_pow2(vq->num) &&
	       vq->desc_gpa != 0 && vq->avail_gpa != 0 && vq->used_gpa != 0 &&
	       vq->desc_gpa % VRING_DESC_ALIGN_SIZE == 0 &&
	       vq->avail_gpa % VRING_AVAIL_ALIGN_SIZE == 0 &&
	       vq->used_gpa % VRING_USED_ALIGN_SIZE == 0;
}

/* ---- identification and features ---- */

static uint32_t rd_magic(struct virtio_mmio *m)
{
	(void)m;
	return VIRTIO_MMIO_MAGIC;
}

static uint32_t rd_version(struct virtio_mmio *m)
{
	return m->version;
}

static uint32_t rd_device_id(struct virtio_mmio *m)
{
	return m->vdev->ops->device_id;
}

static uint32_t rd_vendor_id(struct virtio_mmio *m)
{
	(void)m;
	return VIRTIO_MMIO_VENDOR;
}

static uint32_t rd_device_features(struct virtio_mmio *m)
{
	if (m->device_features_sel > 1)
		return 0;
	return (uint32_t)(m->vdev->host_features >> (32 * m->device_features_sel));
}

static void wr_device_features_sel(struct virtio_mmio *m, uint32_t val)
{
	m->device_features_sel = val;
}

static void wr_driver_features(struct virtio_mmio *m, uint32_t val)
{
	struct virtio_dev *vdev = m->vdev;
	unsigned shift;

	/* Features are final once FEATURES_OK (modern) or DRIVER_OK (legacy) is set. */
	if (virtio_dev_status(vdev) & (VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK)) {
		guest_warn(m, "DriverFeatures written after negotiation: ignored");
		return;
	}
	if (m->driver_features_sel > 1) {
		if (val)
			guest_warn(m, "DriverFeatures word %u: no such features: ignored",
				   m->driver_features_sel);
		return;
	}
	shift = 32 * m->driver_features_sel;
	vdev->driver_features &= ~(0xffffffffull << shift);
	vdev->driver_features |= (uint64_t)val << shift;
}

static void wr_driver_features_sel(struct virtio_mmio *m, uint32_t val)
{
	m->driver_features_sel = val;
}

/* ---- queues ---- */

static void wr_queue_sel(struct virtio_mmio *m, uint32_t val)
{
	m->queue_sel = val; /* range-checked on every use */
}

static uint32_t rd_queue_num_max(struct virtio_mmio *m)
{
	return sel_vq(m) ? VIRTQ_MAX_SIZE : 0;
}

static void wr_queue_num(struct virtio_mmio *m, uint32_t val)
{
	struct virtq *vq = sel_vq_configurable(m, "QueueNum");

	if (!vq)
		return;
	/* Anything beyond 16 bits is as invalid as 0: caught when enabling. */
	vq->num = val > UINT16_MAX ? 0 : (uint16_t)val;
}

static void set_addr_half(struct virtio_mmio *m, const char *reg, size_t field, bool high,
			  uint32_t val)
{
	struct virtq *vq = sel_vq_configurable(m, reg);
	uint64_t *addr;

	if (!vq)
		return;
	addr = (uint64_t *)(void *)((char *)vq + field);
	if (high)
		*addr = (*addr & 0xffffffffull) | ((uint64_t)val << 32);
	else
		*addr = (*addr & ~0xffffffffull) | val;
}

#define ADDR_WRITER(fn, reg, field, high)                                      \
	static void fn(struct virtio_mmio *m, uint32_t val)                    \
	{                                                                      \
		set_addr_half(m, reg, offsetof(struct virtq, field), high, val); \
	}
ADDR_WRITER(wr_desc_lo, "QueueDescLow", desc_gpa, false)
ADDR_WRITER(wr_desc_hi, "QueueDescHigh", desc_gpa, true)
ADDR_WRITER(wr_avail_lo, "QueueDriverLow", avail_gpa, false)
ADDR_WRITER(wr_avail_hi, "QueueDriverHigh", avail_gpa, true)
ADDR_WRITER(wr_used_lo, "QueueDeviceLow", used_gpa, false)
ADDR_WRITER(wr_used_hi, "QueueDeviceHigh", used_gpa, true)

static uint32_t rd_queue_ready(struct virtio_mmio *m)
{
	return sel_vq(m) ? m->queue_ready[m->queue_sel] : 0;
}

static void wr_queue_ready(struct virtio_mmio *m, uint32_t val)
{
	struct virtq *vq = sel_vq(m);

	if (!vq) {
		guest_warn(m, "QueueReady: QueueSel %u out of range: ignored", m->queue_sel);
		return;
	}
	if (val > 1) {
		guest_warn(m, "QueueReady = %u: ignored", val);
		return;
	}
	if (virtio_dev_status(m->vdev) & VIRTIO_CONFIG_S_DRIVER_OK) {
		/* Enabling or disabling a live queue needs VIRTIO_F_RING_RESET. */
		guest_warn(m, "QueueReady written after DRIVER_OK: ignored");
		return;
	}
	if (val == 1 && !vq->ready && !queue_layout_ok(vq)) {
		virtio_dev_set_broken(m->vdev, "queue made ready with bad size or addresses");
		return;
	}
	m->queue_ready[m->queue_sel] = val;
	vq->ready = val;
}

/* ---- legacy queue layout (virtio 1.2 §2.7.2 legacy, §4.2.4) ---- */

static void wr_guest_page_size(struct virtio_mmio *m, uint32_t val)
{
	m->guest_page_size = val; /* checked when a QueuePFN uses it */
}

static void wr_queue_align(struct virtio_mmio *m, uint32_t val)
{
	if (!sel_vq_configurable(m, "QueueAlign"))
		return;
	m->queue_align[m->queue_sel] = val;
}

static uint32_t rd_queue_pfn(struct virtio_mmio *m)
{
	return sel_vq(m) ? m->queue_pfn[m->queue_sel] : 0;
}

/* desc at PFN x GuestPageSize, avail right after it, used at the next QueueAlign. */
static bool legacy_layout(struct virtio_mmio *m, struct virtq *vq, uint32_t pfn)
{
	uint32_t align = m->queue_align[m->queue_sel];
	uint64_t desc, avail, avail_end, used;

	if (!is_pow2(m->guest_page_size) || !is_pow2(align) || !is_pow2(vq->num) ||
	    vq->num > VIRTQ_MAX_SIZE)
		return false;
	desc = (uint64_t)pfn * m->guest_page_size; /* 32 x 32 bits: no overflow */
	if (add_overflows(desc, (uint64_t)vq->num * sizeof(struct vring_desc), &avail) ||
	    add_overflows(avail, 6 + 2 * (uint64_t)vq->num, &avail_end) ||
	    add_overflows(avail_end, (uint64_t)align - 1, &used))
		return false;
	used &= ~((uint64_t)align - 1);
	vq->desc_gpa = desc;
	vq->avail_gpa = avail;
	vq->used_gpa = used;
	return queue_layout_ok(vq);
}

static void wr_queue_pfn(struct virtio_mmio *m, uint32_t val)
{
	struct virtq *vq = sel_vq(m);

	if (!vq) {
		guest_warn(m, "QueuePFN: QueueSel %u out of range: ignored", m->queue_sel);
		return;
	}
	if (vq->started || (virtio_dev_status(m->vdev) & VIRTIO_CONFIG_S_DRIVER_OK)) {
		guest_warn(m, "QueuePFN: queue %u is in use: ignored", m->queue_sel);
		return;
	}
	if (val == 0) {
		m->queue_pfn[m->queue_sel] = 0;
		vq->ready = false;
		return;
	}
	if (!legacy_layout(m, vq, val)) {
		virtio_dev_set_broken(m->vdev, "legacy queue with bad size, page size or alignment");
		return;
	}
	m->queue_pfn[m->queue_sel] = val;
	vq->ready = true;
}

/* ---- notification, interrupts, status ---- */

static void wr_queue_notify(struct virtio_mmio *m, uint32_t val)
{
	if (val > UINT16_MAX) {
		guest_warn(m, "QueueNotify %u out of range: ignored", val);
		return;
	}
	virtio_dev_kick(m->vdev, (uint16_t)val);
}

static uint32_t rd_interrupt_status(struct virtio_mmio *m)
{
	return virtio_dev_isr(m->vdev);
}

static void wr_interrupt_ack(struct virtio_mmio *m, uint32_t val)
{
	virtio_dev_ack_interrupt(m->vdev, val);
}

static uint32_t rd_status(struct virtio_mmio *m)
{
	return virtio_dev_status(m->vdev);
}

/* Transport state that a device reset clears (GuestPageSize survives, as in QEMU). */
static void mmio_soft_reset(struct virtio_mmio *m)
{
	m->device_features_sel = 0;
	m->driver_features_sel = 0;
	m->queue_sel = 0;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		m->queue_align[q] = LEGACY_QUEUE_ALIGN_DEFAULT;
		m->queue_pfn[q] = 0;
		m->queue_ready[q] = 0;
	}
}

static void wr_status(struct virtio_mmio *m, uint32_t val)
{
	if (val > UINT8_MAX) {
		guest_warn(m, "Status 0x%x has bits above 7: ignored", val);
		return;
	}
	virtio_dev_set_status(m->vdev, (uint8_t)val);
	if (val == 0)
		mmio_soft_reset(m);
}

/* ---- shared memory regions: we have none (§4.2.2: length reads as -1) ---- */

static void wr_shm_sel(struct virtio_mmio *m, uint32_t val)
{
	(void)m;
	(void)val;
}

static uint32_t rd_all_ones(struct virtio_mmio *m)
{
	(void)m;
	return 0xffffffffu;
}

static uint32_t rd_config_generation(struct virtio_mmio *m)
{
	return m->vdev->config_generation;
}

#define REG(off, nm, fl, rd, wr) [(off) / 4] = { .name = nm, .flags = fl, .read = rd, .write = wr }

static const struct mmio_reg regs[VIRTIO_MMIO_CONFIG / 4] = {
	REG(VIRTIO_MMIO_MAGIC_VALUE, "MagicValue", REG_R | REG_BOTH, rd_magic, NULL),
	REG(VIRTIO_MMIO_VERSION, "Version", REG_R | REG_BOTH, rd_version, NULL),
	REG(VIRTIO_MMIO_DEVICE_ID, "DeviceID", REG_R | REG_BOTH, rd_device_id, NULL),
	REG(VIRTIO_MMIO_VENDOR_ID, "VendorID", REG_R | REG_BOTH, rd_vendor_id, NULL),
	REG(VIRTIO_MMIO_DEVICE_FEATURES, "DeviceFeatures", REG_R | REG_BOTH, rd_device_features,
	    NULL),
	REG(VIRTIO_MMIO_DEVICE_FEATURES_SEL, "DeviceFeaturesSel", REG_W | REG_BOTH, NULL,
	    wr_device_features_sel),
	REG(VIRTIO_MMIO_DRIVER_FEATURES, "DriverFeatures", REG_W | REG_BOTH, NULL,
	    wr_driver_features),
	REG(VIRTIO_MMIO_DRIVER_FEATURES_SEL, "DriverFeaturesSel", REG_W | REG_BOTH, NULL,
	    wr_driver_features_sel),
	REG(VIRTIO_MMIO_GUEST_PAGE_SIZE, "GuestPageSize", REG_W | REG_V1, NULL,
	    wr_guest_page_size),
	REG(VIRTIO_MMIO_QUEUE_SEL, "QueueSel", REG_W | REG_BOTH, NULL, wr_queue_sel),
	REG(VIRTIO_MMIO_QUEUE_NUM_MAX, "QueueNumMax", REG_R | REG_BOTH, rd_queue_num_max, NULL),
	REG(VIRTIO_MMIO_QUEUE_NUM, "QueueNum", REG_W | REG_BOTH, NULL, wr_queue_num),
	REG(VIRTIO_MMIO_QUEUE_ALIGN, "QueueAlign", REG_W | REG_V1, NULL, wr_queue_align),
	REG(VIRTIO_MMIO_QUEUE_PFN, "QueuePFN", REG_R | REG_W | REG_V1, rd_queue_pfn,
	    wr_queue_pfn),
	REG(VIRTIO_MMIO_QUEUE_READY, "QueueReady", REG_R | REG_W | REG_V2, rd_queue_ready,
	    wr_queue_ready),
	REG(VIRTIO_MMIO_QUEUE_NOTIFY, "QueueNotify", REG_W | REG_BOTH, NULL, wr_queue_notify),
	REG(VIRTIO_MMIO_INTERRUPT_STATUS, "InterruptStatus", REG_R | REG_BOTH,
	    rd_interrupt_status, NULL),
	REG(VIRTIO_MMIO_INTERRUPT_ACK, "InterruptACK", REG_W | REG_BOTH, NULL,
	    wr_interrupt_ack),
	REG(VIRTIO_MMIO_STATUS, "Status", REG_R | REG_W | REG_BOTH, rd_status, wr_status),
	REG(VIRTIO_MMIO_QUEUE_DESC_LOW, "QueueDescLow", REG_W | REG_V2, NULL, wr_desc_lo),
	REG(VIRTIO_MMIO_QUEUE_DESC_HIGH, "QueueDescHigh", REG_W | REG_V2, NULL, wr_desc_hi),
	REG(VIRTIO_MMIO_QUEUE_AVAIL_LOW, "QueueDriverLow", REG_W | REG_V2, NULL, wr_avail_lo),
	REG(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, "QueueDriverHigh", REG_W | REG_V2, NULL, wr_avail_hi),
	REG(VIRTIO_MMIO_QUEUE_USED_LOW, "QueueDeviceLow", REG_W | REG_V2, NULL, wr_used_lo),
	REG(VIRTIO_MMIO_QUEUE_USED_HIGH, "QueueDeviceHigh", REG_W | REG_V2, NULL, wr_used_hi),
	REG(VIRTIO_MMIO_SHM_SEL, "SHMSel", REG_W | REG_V2, NULL, wr_shm_sel),
	REG(VIRTIO_MMIO_SHM_LEN_LOW, "SHMLenLow", REG_R | REG_V2, rd_all_ones, NULL),
	REG(VIRTIO_MMIO_SHM_LEN_HIGH, "SHMLenHigh", REG_R | REG_V2, rd_all_ones, NULL),
	REG(VIRTIO_MMIO_SHM_BASE_LOW, "SHMBaseLow", REG_R | REG_V2, rd_all_ones, NULL),
	REG(VIRTIO_MMIO_SHM_BASE_HIGH, "SHMBaseHigh", REG_R | REG_V2, rd_all_ones, NULL),
	REG(VIRTIO_MMIO_CONFIG_GENERATION, "ConfigGeneration", REG_R | REG_V2,
	    rd_config_generation, NULL),
};

void virtio_mmio_init(struct virtio_mmio *mmio, struct virtio_dev *vdev, uint32_t version)
{
	*mmio = (struct virtio_mmio){
		.vdev = vdev,
		.version = version == 1 ? 1 : 2,
		.guest_page_size = LEGACY_PAGE_SIZE_DEFAULT,
	};
	mmio_soft_reset(mmio);
	/* A legacy device offers no VIRTIO_F_VERSION_1 (which also makes virtio_dev legacy). */
	if (mmio->version == 1)
		vdev->host_features &= ~(1ull << VIRTIO_F_VERSION_1);
}

/* The register at offset for a 32-bit access in this version, or NULL. */
static const struct mmio_reg *find_reg(struct virtio_mmio *m, uint32_t offset, uint32_t size,
				       uint32_t need)
{
	const struct mmio_reg *reg;
	uint32_t ver = m->version == 1 ? REG_V1 : REG_V2;

	if (size != 4 || offset % 4 != 0) {
		guest_warn(m, "%u-byte register access at 0x%03x: ignored", size, offset);
		return NULL;
	}
	reg = &regs[offset / 4];
	if (!reg->name || !(reg->flags & ver)) {
		guest_warn(m, "access to unknown register 0x%03x: ignored", offset);
		return NULL;
	}
	if (!(reg->flags & need)) {
		/* Reads of write-only registers return 0 (§4.2.2); writes to read-only are dropped. */
		if (need == REG_W)
			guest_warn(m, "write to read-only register %s: ignored", reg->name);
		return NULL;
	}
	return reg;
}

/* Config space: 1/2/4/8-byte accesses anywhere inside config_size, little-endian. */
static bool config_range_ok(struct virtio_mmio *m, uint32_t off, uint32_t size)
{
	uint32_t cfg_size = m->vdev->ops->config_size;

	if (size == 0 || size > 8 || off >= cfg_size || size > cfg_size - off) {
		guest_warn(m, "config access of %u bytes at 0x%x beyond %u bytes: ignored", size,
			   off, cfg_size);
		return false;
	}
	return true;
}

uint64_t virtio_mmio_read(struct virtio_mmio *mmio, uint32_t offset, uint32_t size)
{
	const struct mmio_reg *reg;

	if (offset >= VIRTIO_MMIO_CONFIG_OFFSET) {
		uint32_t off = offset - VIRTIO_MMIO_CONFIG_OFFSET;
		uint8_t buf[8] = { 0 };
		uint64_t val;

		if (!config_range_ok(mmio, off, size) || !mmio->vdev->ops->config_read)
			return 0;
		mmio->vdev->ops->config_read(mmio->vdev, off, buf, size);
		memcpy(&val, buf, sizeof(val));
		return le64toh(val);
	}
	reg = find_reg(mmio, offset, size, REG_R);
	return reg ? reg->read(mmio) : 0;
}

void virtio_mmio_write(struct virtio_mmio *mmio, uint32_t offset, uint32_t size, uint64_t value)
{
	const struct mmio_reg *reg;

	if (offset >= VIRTIO_MMIO_CONFIG_OFFSET) {
		uint32_t off = offset - VIRTIO_MMIO_CONFIG_OFFSET;
		uint64_t le = htole64(value);
		uint8_t buf[8];

		if (!config_range_ok(mmio, off, size) || !mmio->vdev->ops->config_write)
			return;
		memcpy(buf, &le, sizeof(buf));
		mmio->vdev->ops->config_write(mmio->vdev, off, buf, size);
		return;
	}
	reg = find_reg(mmio, offset, size, REG_W);
	if (reg)
		reg->write(mmio, (uint32_t)value);
}
