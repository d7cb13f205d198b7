"""E-mail throughput to a local aiosmtpd sink in its own process (issue 3, "Tests and figures").

    python -m bench email_channel [--n 20000] [--connections 8] [--naive-n N] [--repeat 1]

Rows, all in the same run against the same sink:
  ceiling  bare aiosmtplib, `connections` connections, the same messages serialised before the timer
  channel  EmailChannel with pool_size=`connections`, each message rendered per customer from
           one template and built by the channel (what the engine pays per message)
  naive    smtplib, one connection, an EmailMessage (default policy) built per message
The sink runs pinned to CPU 0 and the senders to CPU 1 when the machine has two cores.
The lead's "full engine" row reuses start_sink_process() and measure_ceiling().
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import smtplib
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from multiprocessing.connection import Connection

import aiosmtplib

from autoinform.channels.base import Outgoing
from autoinform.channels.email import EmailChannel
from autoinform.channels.email_mime import MimeBuilder
from autoinform.config import SmtpSettings
from autoinform.content import EmailContent
from autoinform.models import Channel, Outcome

SENDER = "info@energo.example.ru"
SUBJECT = "Задолженность за электроэнергию по лицевому счёту {account}"
TEXT = ("Уважаемый(ая) {name}!\n\nПо лицевому счёту {account} задолженность за электроэнергию "
        "составляет {debt} руб. Просим оплатить её до 10 декабря.\n\nГарантирующий поставщик\n")
HTML = "<p>Уважаемый(ая) {name}!</p><p>Задолженность по счёту {account}: <b>{debt} руб.</b></p>"

SinkStop = Callable[[], int]


# --- the sink process ------------------------------------------------------------------------

def _pin(cpu: int | None) -> bool:
    if cpu is None or not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) <= cpu:
        return False
    os.sched_setaffinity(0, {cpu})
    return True


def _sink_main(conn: Connection, cpu: int | None) -> None:
    from aiosmtpd.smtp import SMTP, Envelope, Session

    _pin(cpu)
    received = 0

    class Counter:
        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            nonlocal received
            received += 1
            return "250 OK"

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        handler = Counter()
        server = await loop.create_server(lambda: SMTP(handler, hostname="sink.local"),
                                          "127.0.0.1", 0, backlog=1024)
        conn.send(server.sockets[0].getsockname()[1])
        stop = asyncio.Event()
        loop.add_reader(conn.fileno(), stop.set)
        await stop.wait()
        conn.recv()
        server.close()
        conn.send(received)

    asyncio.run(serve())


def start_sink_process(cpu: int | None = 0) -> tuple[int, SinkStop]:
    """An aiosmtpd sink in a child process (pinned to `cpu` if possible).

    Returns its port and a stop() that ends the process and returns how many messages it took.
    """
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_sink_main, args=(child, cpu), daemon=True)
    process.start()
    port: int = parent.recv()

    def stop() -> int:
        parent.send("stop")
        count: int = parent.recv()
        process.join(5)
        return count

    return port, stop


# --- the three senders -----------------------------------------------------------------------

def customers(n: int) -> Iterator[tuple[int, str, str, str]]:
    for i in range(n):
        yield i, f"{3000000000 + i}", f"Абонент Номер {i}", f"{(i * 37) % 100000 / 100:.2f}".replace(".", ",")


def _stdlib_message(i: int, account: str, name: str, debt: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Энергосбыт <{SENDER}>"
    msg["To"] = f"{name} <c{i}@example.ru>"
    msg["Subject"] = SUBJECT.format(account=account)
    msg["Message-ID"] = f"<{i}@energo.example.ru>"
    msg.set_content(TEXT.format(name=name, account=account, debt=debt))
    msg.add_alternative(HTML.format(name=name, account=account, debt=debt), subtype="html")
    return msg


def _content(account: str, name: str, debt: str) -> EmailContent:
    return EmailContent(SUBJECT.format(account=account), TEXT.format(name=name, account=account, debt=debt),
                        HTML.format(name=name, account=account, debt=debt))


@dataclass(frozen=True)
class Measured:
    rate: float  # messages/s, wall clock
    cpu_us: float  # this process's CPU per message: the sender's own cost, robust to a busy machine
    failures: int = 0


async def _ceiling(port: int, n: int, connections: int) -> Measured:
    # The very bytes the channel sends, made before the timer: only the sending is measured.
    builder = MimeBuilder(SENDER, "Энергосбыт")
    payloads = [(f"c{i}@example.ru", builder.build(to=f"c{i}@example.ru", to_name=nm, content=_content(a, nm, d),
                                                   message_id=builder.message_id(f"ai{i}.0123456789abcdef")).data)
                for i, a, nm, d in customers(n)]
    clients = [aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, local_hostname="bench")
               for _ in range(connections)]
    for client in clients:
        await client.connect()
    work = iter(payloads)

    async def worker(client: aiosmtplib.SMTP) -> None:
        # The least aiosmtplib can do per message, the same way the channel talks: raw envelope
        # commands (mail()/rcpt() would re-parse each address) and no per-command timers
        # (the channel has one deadline per transaction; here there is none at all).
        await client.ehlo()
        for rcpt, data in work:
            await client.execute_command(b"MAIL FROM:<" + SENDER.encode() + b">", timeout=None)
            await client.execute_command(b"RCPT TO:<" + rcpt.encode() + b">", timeout=None)
            await client.data(data, timeout=None)

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(c) for c in clients))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    for client in clients:
        await client.quit()
    return Measured(n / elapsed, cpu / n * 1e6)


def measure_ceiling(port: int, n: int, connections: int) -> Measured:
    """A bare aiosmtplib sender with `connections` connections, pre-serialised bytes."""
    return asyncio.run(_ceiling(port, n, connections))


async def _channel(port: int, n: int, connections: int) -> Measured:
    settings = SmtpSettings(host="127.0.0.1", port=port, pool_size=connections, sender=SENDER,
                            sender_name="Энергосбыт")
    channel = EmailChannel(settings, local_hostname="bench")
    await channel.start()
    work = customers(n)
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for i, account, name, debt in work:
            item = Outgoing(i, i, Channel.EMAIL, f"c{i}@example.ru", _content(account, name, debt), name)
            result = await channel.send(item)
            failures += result.outcome is Outcome.NEGATIVE  # a relay's 250 is pending (issue 8 item 8)

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    await channel.close()
    return Measured(n / elapsed, cpu / n * 1e6, failures)


def measure_channel(port: int, n: int, connections: int) -> Measured:
    """EmailChannel (render + build + send) with pool_size=`connections`; failures = not accepted."""
    return asyncio.run(_channel(port, n, connections))


def measure_naive(port: int, n: int) -> Measured:
    """smtplib on one connection building an EmailMessage per message."""
    with smtplib.SMTP("127.0.0.1", port, local_hostname="bench") as client:
        start, cpu = time.perf_counter(), time.process_time()
        for i, account, name, debt in customers(n):
            client.send_message(_stdlib_message(i, account, name, debt), SENDER, [f"c{i}@example.ru"])
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return Measured(n / elapsed, cpu / n * 1e6)


# --- the report ------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench email_channel", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="messages per row (default 20000)")
    parser.add_argument("--naive-n", type=int, default=2_000,
                        help="messages for the naive row, ~10x slower (default 2000)")
    parser.add_argument("--connections", type=int, default=8, help="SMTP connections (default 8)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; the median is shown")
    args = parser.parse_args(argv)
    naive_n = args.naive_n

    port, stop = start_sink_process(cpu=0)
    pinned = _pin(1)
    runs: dict[str, list[Measured]] = {"ceiling": [], "channel": [], "naive": []}
    try:
        for _ in range(args.repeat):  # rows interleaved, so drift hits them alike
            runs["ceiling"].append(measure_ceiling(port, args.n, args.connections))
            runs["channel"].append(measure_channel(port, args.n, args.connections))
            runs["naive"].append(measure_naive(port, naive_n))
    finally:
        received = stop()
    rows = {name: Measured(statistics.median(m.rate for m in ms), statistics.median(m.cpu_us for m in ms),
                           sum(m.failures for m in ms)) for name, ms in runs.items()}
    ceiling, naive = rows["ceiling"].rate, rows["naive"].rate
    expected = args.repeat * (2 * args.n + naive_n)

    print(f"e-mail to aiosmtpd in a separate process; {args.connections} connections; "
          f"{args.n} messages a row ({naive_n} naive); median of {args.repeat}; "
          f"{'sink on CPU 0, senders on CPU 1' if pinned else 'not pinned'}")
    print(f"{'row':<10}{'msg/s':>10}{'vs ceiling':>12}{'vs naive':>10}{'sender CPU/msg':>16}")
    for name, row in rows.items():
        print(f"{name:<10}{row.rate:>10.0f}{row.rate / ceiling:>11.0%}{row.rate / naive:>9.1f}x"
              f"{row.cpu_us:>13.0f} us")
    failures = rows["channel"].failures
    print(f"sink received {received} of {expected} messages; channel failures: {failures}")
    return 0 if received == expected and failures == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
