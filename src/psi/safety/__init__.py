"""Safety guards (issue 6): hazard and injection checks on every channel, the policy that
turns them into actions, approvals of risky tool calls, and the audit log."""
