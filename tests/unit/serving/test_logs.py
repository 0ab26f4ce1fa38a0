"""The log configuration ``consent-gateway`` runs uvicorn with: access-log addresses cut like the consent record's."""

from __future__ import annotations

import logging
import logging.config

import pytest

from gateway.serving.logs import AnonymousAccessLog, log_config


@pytest.mark.parametrize(
    ("client", "logged"),
    [
        ("192.0.2.33:51234", "192.0.2.0"),
        ("2001:db8:abcd:12::1:443", "2001:db8:abcd::"),
        ("::ffff:192.0.2.33:80", "192.0.2.0"),  # IPv4-mapped counts as IPv4
        ("", ""),  # a Unix socket has no client address
        ("not-an-address:1", "-"),
    ],
)
def test_the_access_log_keeps_the_network_not_the_address_or_port(client: str, logged: str) -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', None, None)
    record.args = (client, "GET", "/cursus?x=1", "1.1", 200)
    assert AnonymousAccessLog().filter(record)
    assert record.getMessage() == f'{logged} - "GET /cursus?x=1 HTTP/1.1" 200'


def test_the_configuration_filters_the_access_handler_and_formats_the_gateway_loggers(capsys) -> None:
    config = log_config()
    loggers = [logging.getLogger(name) for name in config["loggers"]]
    saved = [(logger.handlers[:], logger.level, logger.propagate, logger.filters[:]) for logger in loggers]
    logging.config.dictConfig(config)
    try:
        logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "203.0.113.77:4000", "GET", "/", "1.1", 200)
        logging.getLogger("gateway.proxy").warning("upstream %s: %s %s", "unreachable", "GET", "/les")
        out, err = capsys.readouterr()
        assert '203.0.113.0 - "GET / HTTP/1.1" 200' in out and "203.0.113.77" not in out
        assert err.splitlines() == ["WARNING:  upstream unreachable: GET /les"]
    finally:  # the handlers write to this test's captured streams: put back what the loggers had
        for logger, (handlers, level, propagate, filters) in zip(loggers, saved, strict=True):
            logger.handlers, logger.level, logger.propagate, logger.filters = handlers, level, propagate, filters
