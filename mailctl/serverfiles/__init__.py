"""The files Postfix, Dovecot and OpenDKIM read: render, merge, plan, apply."""
