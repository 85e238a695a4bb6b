/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Register images of a simulated CXL root port and of the CXL memory device
 * below it: 4 KiB config spaces and the 64 KiB component register block.
 * Every offset and bit comes from lib/cxl-regs.h, the same constants the
 * decoders use, so the simulator cannot drift from what the daemon expects.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cxl-regs.h"

#define SIM_RP_VENDOR           0x8086u         /* QEMU cxl-rp */
#define SIM_RP_DEVICE           0x7075u
#define SIM_EP_VENDOR           0x8086u         /* QEMU cxl-type3 */
#define SIM_EP_DEVICE           0x0d93u
#define SIM_EP_CLASS            0x050210u       /* memory controller, CXL, CXL.mem device */
#define SIM_RP_CLASS            0x060400u       /* PCI-to-PCI bridge */
#define SIM_IRQ_FN_VENDOR       0x1234u         /* QEMU edu, the QEMU tier's stand-in for a signalling function */
#define SIM_IRQ_FN_DEVICE       0x11e8u
#define SIM_IRQ_FN_CLASS        0x00ff00u       /* unclassified */

/* Where the structures of a default image sit; tests use them to poke registers directly. */
#define SIM_MSI_OFFSET          0x60u
#define SIM_PCIE_CAP_OFFSET     0x80u
#define SIM_DVSEC_START         0x150u
#define SIM_RAS_OFFSET          0x1080u
#define SIM_LINK_OFFSET         0x10d8u
#define SIM_HDM_OFFSET          0x1110u
#define SIM_TI_OFFSET           0x1300u

struct sim_rootport_options {
        bool ti;                        /* T&I capability (ID 9) present; false = QEMU-like */
        bool mem_isolation;             /* T&I advertises CXL.mem isolation (+ link down) */
        bool cache_isolation;           /* T&I advertises CXL.cache isolation (+ link down) */
        bool interrupt;                 /* T&I advertises an isolation interrupt */
        uint8_t interrupt_msgnum;       /* MSI vector of that interrupt (< 2: the port has 2) */
        bool errcor_signaling;          /* T&I can signal isolation with ERR_COR */
        uint8_t mem_timeout_ranges;     /* capability bits 3:0 */
        uint8_t bir;                    /* BAR holding the component block: 0 (64-bit) or 1 (32-bit) */
        uint64_t block_offset;          /* offset of the block in that BAR, 64 KiB aligned */
        uint64_t serial;                /* PCIe DSN */
};

/* A root port like a production one: T&I with CXL.mem/CXL.cache isolation, interrupt on MSI vector 1. */
void sim_rootport_options_default(struct sim_rootport_options *ret);

/* Size of the BAR holding the component block: a power of two covering offset + 64 KiB. */
uint64_t sim_component_bar_size(const struct sim_rootport_options *o);

/*
 * Root port config space (4 KiB): type 1 header with BAR0 (and BAR1), PM,
 * MSI (2 vectors), PCIe capability (root port), AER at 0x100, ACS, the CXL
 * DVSECs 3, 4, 7 and the Register Locator 8 at QEMU cxl-rp offsets, DSN.
 * The non-prefetchable window [window_base, +window_size) holds the endpoint's BAR
 * (1 MiB aligned). -EINVAL for options no root port can have (BIR > 1,
 * misaligned offset).
 */
int sim_rootport_config_build(const struct sim_rootport_options *o, uint64_t bar_address,
                              uint8_t primary_bus, uint8_t secondary_bus, uint64_t window_base, uint64_t window_size,
                              uint8_t ret_cfg[PCI_CFG_SIZE_PCIE]);

/* Component register block (64 KiB) with the capability array at 0x1000 and reset values. */
int sim_component_block_build(const struct sim_rootport_options *o, uint8_t ret_block[CXL_COMPONENT_BLOCK_SIZE]);

/* CXL type 3 memory device config space (4 KiB): type 0 header, PCIe endpoint, DVSEC 0 and 8. */
int sim_memdev_config_build(uint64_t bar_address, uint64_t serial, uint8_t ret_cfg[PCI_CFG_SIZE_PCIE]);

/*
 * Config space (256 bytes) of a plain PCI function that signals with INTx
 * (pin A), as uio_pci_generic drives one: type 0 header, one 4 KiB memory
 * BAR, memory decoding on, INTx not disabled.
 */
int sim_irq_function_config_build(uint64_t bar_address, uint8_t irq_line, uint8_t ret_cfg[PCI_CFG_SIZE_PCI]);
