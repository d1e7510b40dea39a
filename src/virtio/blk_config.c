/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-blk feature bits and config space (virtio 1.2 §5.2.3, §5.2.4).
 *
 * capacity is the disk size in 512-byte sectors, rounded down: the tail of
 * an image whose size is not a multiple of 512 is not reachable by the
 * guest. Only the writeback byte is writable, and only with CONFIG_WCE.
 */
#include <endian.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include "blk_internal.h"

#define FEATURE(bit) (1ull << (bit))

void blk_config_init(struct virtio_blk *blk)
{
	blk->capacity = blk->disk->size >> VIRTIO_BLK_SECTOR_SHIFT;
	blk_config_reset(blk);
}

void blk_config_reset(struct virtio_blk *blk)
{
	/* The disk has a volatile cache: writeback until the driver asks otherwise. */
	__atomic_store_n(&blk->writeback, 1, __ATOMIC_RELAXED);
}

uint64_t blk_features(struct virtio_dev *vdev)
{
	const struct virtio_blk *blk = vdev->priv;
	uint64_t f = FEATURE(VIRTIO_BLK_F_SEG_MAX) | FEATURE(VIRTIO_BLK_F_SIZE_MAX) |
		     FEATURE(VIRTIO_BLK_F_BLK_SIZE) | FEATURE(VIRTIO_BLK_F_TOPOLOGY) |
		     FEATURE(VIRTIO_BLK_F_FLUSH) | FEATURE(VIRTIO_BLK_F_CONFIG_WCE);

	if (blk->read_only)
		f |= FEATURE(VIRTIO_BLK_F_RO);
	if (blk->num_queues > 1)
		f |= FEATURE(VIRTIO_BLK_F_MQ);
	return f;
}

static uint32_t logical_block_size(const struct disk *disk)
{
	uint32_t lbs = disk->logical_block_size;

	return lbs >= VIRTIO_BLK_SECTOR_SIZE && (lbs & (lbs - 1)) == 0 ? lbs
								       : VIRTIO_BLK_SECTOR_SIZE;
}

/* log2(physical / logical) when that is a power of two, else 0. */
static uint8_t physical_block_exp(const struct disk *disk)
{
	uint32_t lbs = logical_block_size(disk), pbs = disk->physical_block_size;
	uint32_t ratio;

	if (pbs <= lbs || pbs % lbs != 0)
		return 0;
	ratio = pbs / lbs;
	if (ratio & (ratio - 1))
		return 0;
	return (uint8_t)__builtin_ctz(ratio);
}

/* What the guest sees: writeback only when FLUSH lets it act on it (§5.2.5). */
static uint8_t effective_writeback(const struct virtio_blk *blk)
{
	if (!(blk->vdev.driver_features & FEATURE(VIRTIO_BLK_F_FLUSH)))
		return 0;
	return __atomic_load_n(&blk->writeback, __ATOMIC_RELAXED);
}

static void config_fill(const struct virtio_blk *blk, struct virtio_blk_config *cfg)
{
	uint8_t exp = physical_block_exp(blk->disk);

	memset(cfg, 0, sizeof(*cfg));
	cfg->capacity = htole64(blk->capacity);
	cfg->size_max = htole32(VIRTIO_BLK_SIZE_MAX);
	cfg->seg_max = htole32(VIRTIO_BLK_SEG_MAX);
	cfg->blk_size = htole32(logical_block_size(blk->disk));
	cfg->physical_block_exp = exp;
	cfg->alignment_offset = 0;
	cfg->min_io_size = htole16((uint16_t)(1u << exp)); /* one physical block */
	cfg->opt_io_size = htole32(0);                     /* no preference known */
	cfg->wce = effective_writeback(blk);
	cfg->num_queues = htole16(blk->num_queues);
}

void blk_config_read(struct virtio_dev *vdev, uint32_t offset, void *buf, uint32_t len)
{
	struct virtio_blk_config cfg;

	/* The caller bounded offset + len by BLK_CONFIG_SIZE. */
	config_fill(vdev->priv, &cfg);
	memcpy(buf, (const uint8_t *)&cfg + offset, len);
}

void blk_config_write(struct virtio_dev *vdev, uint32_t offset, const void *buf, uint32_t len)
{
	struct virtio_blk *blk = vdev->priv;
	uint8_t val = *(const uint8_t *)buf;

	if (offset != offsetof(struct virtio_blk_config, wce) || len != 1 ||
	    !(vdev->driver_features & FEATURE(VIRTIO_BLK_F_CONFIG_WCE)) || val > 1) {
		log_guest(&vdev->guest_log, LOG_LVL_WARNING, vdev->name,
			  "config write of %u bytes at 0x%x: ignored (only writeback is writable)",
			  len, offset);
		return;
	}
	if (__atomic_load_n(&blk->writeback, __ATOMIC_RELAXED) != val) {
		__atomic_store_n(&blk->writeback, val, __ATOMIC_RELAXED);
		vdev->config_generation++;
	}
}
