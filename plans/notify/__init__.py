"""The plans app's notifications: who is concerned by a window, task,
milestone or plan, the events plan services report (`plans.notify.events`,
the one entry point), the periodic reminder scans, the window emails and
calendar feeds. Finished rows go to the generic outbox
(`patchplan.notifications`), which stores, delivers and retries them."""
