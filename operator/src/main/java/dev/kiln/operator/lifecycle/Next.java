package dev.kiln.operator.lifecycle;

/** Whether a step of a reconcile lets the next one go on, or ends the reconcile there. */
enum Next { CONTINUE, STOP }
