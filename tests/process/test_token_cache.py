"""Tokens across threads and forks: one refresh for many 401s on one token; a fork during a fetch."""

from __future__ import annotations

import os
import threading
import time

from shared_core.token_cache import CachedToken, EntraTokenAuth, TokenCache


class _Issuer:
    """Hands out token-1, token-2, ... (valid for an hour), counting fetches; ``gate`` can hold a fetch."""

    def __init__(self) -> None:
        self.issued = 0
        self.gate = threading.Event()
        self.gate.set()
        self.fetching = threading.Event()

    def fetch(self) -> CachedToken:
        self.fetching.set()
        self.gate.wait(10)
        self.issued += 1
        return CachedToken(f"token-{self.issued}", time.time() + 3600)


def test_many_401s_for_one_token_make_one_refresh() -> None:
    issuer = _Issuer()
    cache = TokenCache(issuer.fetch)
    served: list[str] = []
    ready = threading.Barrier(8)
    lock = threading.Lock()

    def call() -> None:
        token = cache.get()  # every request goes out with token-1 ...
        ready.wait()
        with lock:  # ... and their 401s come back one after another, after the first refresh finished
            served.append(cache.refresh() if token == "token-1" else token)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert issuer.issued == 2, "one fetch for the first token, one refresh for all eight 401s"
    assert served == ["token-2"] * 8


class _Credential:
    built = 0

    def __init__(self, issuer: _Issuer) -> None:
        type(self).built += 1
        self._issuer = issuer

    def get_token(self, *scopes: str) -> _Token:
        return _Token(self._issuer.fetch())


class _Token:
    def __init__(self, cached: CachedToken) -> None:
        self.token = cached.value
        self.expires_on = int(cached.expires_on)


def test_many_401s_build_one_new_credential() -> None:
    issuer = _Issuer()
    _Credential.built = 0
    auth = EntraTokenAuth(lambda: _Credential(issuer), scope="https://cognitiveservices.azure.com/.default", kind="x")
    ready = threading.Barrier(5)
    lock = threading.Lock()

    def call() -> None:
        assert auth.headers() == {"Authorization": "Bearer token-1"}
        ready.wait()
        with lock:
            auth.force_refresh()

    threads = [threading.Thread(target=call) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert (_Credential.built, issuer.issued) == (2, 2), "five 401s: one new credential, one fetch"
    assert auth.headers() == {"Authorization": "Bearer token-2"}


def test_a_child_forked_while_a_thread_fetches_a_token_fetches_its_own() -> None:
    issuer = _Issuer()
    issuer.gate.clear()
    cache = TokenCache(issuer.fetch)
    fetcher = threading.Thread(target=cache.get)
    fetcher.start()
    assert issuer.fetching.wait(5), "the parent's fetch holds the cache's lock"
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        issuer.gate.set()  # the child's own fetch may go through
        try:
            os.write(write_end, cache.get().encode())
        finally:
            os._exit(0)
    os.close(write_end)
    answer = ""
    try:
        import select

        ready = select.select([read_end], [], [], 10)[0]
        answer = os.read(read_end, 100).decode() if ready else ""
    finally:
        issuer.gate.set()
        fetcher.join(5)
        os.close(read_end)
        if not answer:
            os.kill(pid, 9)
        os.waitpid(pid, 0)
    assert answer == "token-1", "the child did not wait forever on a lock held by a thread it does not have"
