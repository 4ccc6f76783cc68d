"""Which address is the client's: the TCP peer, unless a configured proxy."""
import ipaddress

import pytest

from backend.client_address import real_address


@pytest.fixture
def proxies(settings):
    def set_(*networks):
        settings.TRUSTED_PROXIES = [ipaddress.ip_network(n) for n in networks]
    return set_


def test_no_trusted_proxy_means_the_peer_whatever_the_header_says(proxies):
    proxies()
    assert real_address("192.0.2.9", "203.0.113.1") == "192.0.2.9"
    assert real_address("127.0.0.1", "203.0.113.1, 10.0.0.1") == "127.0.0.1"


def test_behind_trusted_proxies_the_first_untrusted_hop_from_the_right(proxies):
    proxies("127.0.0.1/32", "10.0.0.0/8")
    assert real_address("127.0.0.1", "192.0.2.5") == "192.0.2.5"
    # The client wrote 203.0.113.1 itself; the proxies appended the rest.
    assert real_address("127.0.0.1", "203.0.113.1, 192.0.2.5, 10.1.1.1") == "192.0.2.5"
    assert real_address("127.0.0.1", "10.1.1.1") == "10.1.1.1"  # only proxies: the leftmost
    assert real_address("127.0.0.1", "not-an-ip, 192.0.2.5") == "192.0.2.5"
    assert real_address("127.0.0.1", "192.0.2.5, garbage") == "127.0.0.1"
    assert real_address("127.0.0.1", None) == "127.0.0.1"
    # An untrusted peer's header is never read.
    assert real_address("192.0.2.7", "192.0.2.5") == "192.0.2.7"
