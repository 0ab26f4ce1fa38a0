import ipaddress

import pytest

from gateway.net.addresses import anonymise, parse_address
from gateway.net.request import request_head

TRUSTED = (ipaddress.ip_network("10.0.0.0/8"),)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("2001:db8:abcd:12:34:56:78:9a", "2001:db8:abcd::"),
        ("::ffff:198.51.100.23", "198.51.100.0"),
    ],
)
def test_anonymise_like_google(address: str, expected: str) -> None:
    assert anonymise(parse_address(address)) == expected


def scope(peer: str, *headers: tuple[str, str]) -> dict:
    return {"type": "http", "client": (peer, 5555), "headers": [(k.encode(), v.encode()) for k, v in headers]}


def client_address(scope: dict, trusted: tuple) -> object:
    return request_head(scope, trusted).client_address


def test_forwarded_for_ignored_from_untrusted_peer() -> None:
    assert str(client_address(scope("198.51.100.9", ("x-forwarded-for", "1.2.3.4")), TRUSTED)) == "198.51.100.9"


def test_forwarded_for_walked_from_the_right_through_trusted_proxies() -> None:
    headers = ("x-forwarded-for", "6.6.6.6, 203.0.113.5, 10.1.1.1")
    # 6.6.6.6 was written by the visitor; 203.0.113.5 is what our proxies saw.
    assert str(client_address(scope("10.0.0.2", headers), TRUSTED)) == "203.0.113.5"


def test_rfc7239_forwarded_header() -> None:
    headers = ("forwarded", 'for=192.0.2.60;proto=https, for="[2001:db8:cafe::17]:4711"')
    assert str(client_address(scope("10.0.0.2", headers), TRUSTED)) == "2001:db8:cafe::17"


def test_unparsable_hop_stops_the_walk() -> None:
    headers = ("x-forwarded-for", "203.0.113.5, unknown")
    assert str(client_address(scope("10.0.0.2", headers), TRUSTED)) == "10.0.0.2"
