"""Tools a model may call (psi.tools.base: the seam; psi.tools.builtin: psi's own)."""
