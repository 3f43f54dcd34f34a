/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_APP_LOOP_TRANSPORT_H
#define STARMETER_APP_LOOP_TRANSPORT_H

#include "infra/counters.h"

/* The Redis counters' way onto the server's event loops: http/conn.h behind counters' interface. */
const counters_loop_transport *app_loop_transport(void);

#endif
