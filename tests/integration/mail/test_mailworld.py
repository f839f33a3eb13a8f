"""The world's recorders are not vacuous: a DATA command, a second RCPT in one transaction, a greylisted
triplet are all seen and answered as the simulated server would."""

from __future__ import annotations

import asyncio

import aiosmtplib

from contactvault.server.demo.mailworld import MailWorld, running_mail_world


async def _session(world: MailWorld, address: str, *commands: tuple[bytes, ...]) -> list[int]:
    client = aiosmtplib.SMTP(hostname=address, port=world.smtp_port, local_hostname="t.test", start_tls=False)
    await client.connect()
    codes = [(await client.execute_command(*command)).code for command in commands]
    client.close()
    return codes


def test_data_is_refused_and_recorded() -> None:
    async def scenario() -> None:
        async with running_mail_world() as world:
            codes = await _session(
                world,
                "127.0.0.2",
                (b"EHLO", b"t.test"),
                (b"MAIL", b"FROM:<a@t.test>"),
                (b"RCPT", b"TO:<ada.lovelace@normal.test>"),
                (b"DATA",),
            )
            assert codes == [250, 250, 250, 554]
            assert world.data_commands == 1
            assert world.recorder.connections_to("127.0.0.2") == 1

    asyncio.run(scenario())


def test_the_one_recipient_server_refuses_a_second_rcpt_without_rset() -> None:
    async def scenario() -> None:
        async with running_mail_world() as world:
            codes = await _session(
                world,
                "127.0.0.11",
                (b"EHLO", b"t.test"),
                (b"MAIL", b"FROM:<a@t.test>"),
                (b"RCPT", b"TO:<ada.lovelace@onercpt.test>"),
                (b"RCPT", b"TO:<alan.turing@onercpt.test>"),
            )
            assert codes == [250, 250, 250, 452]

    asyncio.run(scenario())


def test_greylisting_defers_a_new_triplet_until_its_wait_is_over() -> None:
    now = [0.0]

    async def scenario() -> None:
        async with running_mail_world(greylist_wait=10, now=lambda: now[0]) as world:
            greet = ((b"EHLO", b"t.test"), (b"MAIL", b"FROM:<a@t.test>"))
            rcpt = (b"RCPT", b"TO:<ada.lovelace@grey.test>")
            assert await _session(world, "127.0.0.4", *greet, rcpt) == [250, 250, 451]
            now[0] = 9.0
            assert await _session(world, "127.0.0.4", *greet, rcpt) == [250, 250, 451]
            now[0] = 10.0
            assert await _session(world, "127.0.0.4", *greet, rcpt) == [250, 250, 250]

    asyncio.run(scenario())
