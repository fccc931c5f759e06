"""Outbound calendar providers behind one small protocol (see ``base``)."""
