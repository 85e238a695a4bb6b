/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The arming gate in the daemon: per watchable port, read what sits below it
 * (topology.h), ask lib/arming-gate.h, and arm through port_arm() or refuse.
 * While armed, every relevant change below the port is checked again and an
 * unsafe port is disarmed (port_disarm() waits for RP Busy = 0, the quiesce
 * rule) or alerted on, per [port] on-unsafe=.
 *
 * Each port's decision is logged once (MESSAGE_ID_ARMING_DECISION) and kept in
 * struct port (gate_decided, gate) for D-Bus. A port an operator disarmed
 * (port->operator_disarmed, set by D-Bus Disarm) is not re-armed until the
 * operator's Arm clears the flag and calls arming_evaluate_port(). The daemon never arms a bit
 * whose capability is absent, never touches control while a port is
 * isolated, and never clears isolation.
 */
#pragma once

#include <stddef.h>

struct manager;
struct port;

/*
 * Decide for p and act: an unarmed port is armed when the gate allows; an
 * armed one is checked and disarmed/alerted when unsafe. Ports not watchable
 * or isolated are left alone. Returns 0, or a negative errno when the
 * registers could not be written (also logged).
 */
int arming_evaluate_port(struct manager *m, struct port *p);
/*
 * Every port: at startup, after a reload, when something below some port changed. The buses are walked
 * once for all ports (one topology snapshot), not once per port.
 */
void arming_evaluate_all(struct manager *m);
/* m->ports[first] .. m->ports[first + n - 1], with one walk of the buses (ports just added). */
void arming_evaluate_ports(struct manager *m, size_t first, size_t n);
