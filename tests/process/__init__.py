"""Process safety: forked, forkserver and spawned workers against one emulator started by the parent."""
