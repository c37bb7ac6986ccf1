# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turning what pyroute2 or the OS raises into ``_errors.KernelError``."""

import contextlib
import os

from ansible_collections.lanbridge.core.plugins.module_utils._errors import KernelError


def cause(exc):
    """``(errno or None, '[17] File exists')`` of any exception pyroute2 or the OS raises."""
    code = getattr(exc, "code", None)
    if code is None and isinstance(exc, OSError):
        code = exc.errno
    if isinstance(code, int) and code > 0:
        return code, "[%d] %s" % (code, os.strerror(code))
    return None, str(exc) or exc.__class__.__name__


@contextlib.contextmanager
def failing(what):
    """Turn any error inside the block into ``KernelError('failed to WHAT: cause')``."""
    try:
        yield
    except KernelError:
        raise
    except Exception as exc:  # pyroute2 raises its NetlinkError, OSError, ValueError, KeyError...
        code, text = cause(exc)
        raise KernelError("failed to %s: %s" % (what, text), code) from exc
