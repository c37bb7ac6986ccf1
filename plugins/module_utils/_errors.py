# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every error the collection raises: one root, ``LanbridgeError``, and a subclass per cause.

A module's ``main()`` catches ``LanbridgeError`` (and ``Exception`` only as the last resort), so an
error added here cannot slip through as a traceback. Each message is one sentence naming the object
and the cause.
"""


class LanbridgeError(Exception):
    """The root of every error this collection raises."""


class ValidationError(LanbridgeError, ValueError):
    """A value that cannot be used, in one sentence (also a ``ValueError``)."""


class PlanError(LanbridgeError):
    """The wanted state cannot be reached from the live one (without touching what is not ours)."""


class KernelError(LanbridgeError):
    """What was tried on which object, and the kernel's answer, e.g.
    ``failed to add veth vl3f2a91c0 (peer eth1): [17] File exists``. ``.code`` is the errno or None."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


class LockError(LanbridgeError):
    """A lock could not be taken; nothing was changed."""


class JournalError(LanbridgeError):
    """A journal that cannot be started or finished; nothing was changed."""


class TransactionError(LanbridgeError):
    """Applying steps failed; ``.rolled_back`` is true when every applied step was undone."""

    def __init__(self, message, rolled_back):
        super().__init__(message)
        self.rolled_back = rolled_back


class ProbeFailed(LanbridgeError):
    """Nobody answered the probe after the change."""


class PersistError(LanbridgeError):
    """Persisting cannot be done as asked; nothing was changed."""


class FirewallError(LanbridgeError):
    """The firewall rule cannot be managed (a tool is missing or fails)."""


class EngineError(LanbridgeError):
    """A container engine's API failed: the container or the socket, and the cause."""


class TargetError(LanbridgeError):
    """A target (container, PID, namespace) that cannot be used, and why."""


class SharedNamespaceError(TargetError):
    """A container without a network namespace of its own; ``.info`` is what the engine said of it."""

    def __init__(self, msg, info):
        super().__init__(msg)
        self.info = info


class EntryError(LanbridgeError):
    """Fails one ``container_veth`` entry (not the run)."""


class AgentError(LanbridgeError):
    """Installing, configuring or removing the agent failed."""


class StreamClosed(LanbridgeError):
    """An engine's event stream ended or failed; one sentence why."""
