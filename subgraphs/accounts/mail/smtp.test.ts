import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmtpMailer } from './smtp';

/** Just enough of an SMTP server (RFC 5321) to receive messages: what nodemailer says, and the data. */
function startFakeSmtp() {
  const received: { from: string; to: string[]; data: string }[] = [];
  const server = createServer((socket) => {
    let mail = { from: '', to: [] as string[], data: '' };
    let inData = false;
    let buffer = '';
    socket.write('220 fake.smtp ESMTP\r\n');
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      while (buffer.includes('\r\n')) {
        const index = buffer.indexOf('\r\n');
        const line = buffer.slice(0, index);
        buffer = buffer.slice(index + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            received.push(mail);
            mail = { from: '', to: [], data: '' };
            socket.write('250 2.0.0 queued\r\n');
          } else mail.data += `${line.startsWith('..') ? line.slice(1) : line}\n`;
          continue;
        }
        const command = line.slice(0, 4).toUpperCase();
        if (command === 'EHLO' || command === 'HELO') socket.write('250-fake.smtp\r\n250 8BITMIME\r\n');
        else if (command === 'MAIL') {
          mail.from = line;
          socket.write('250 ok\r\n');
        } else if (command === 'RCPT') {
          mail.to.push(line);
          socket.write('250 ok\r\n');
        } else if (command === 'DATA') {
          inData = true;
          socket.write('354 go ahead\r\n');
        } else if (command === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      }
    });
  });
  return { server, received };
}

describe('the SMTP mailer', () => {
  const { server, received } = startFakeSmtp();
  let port: number;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => (server as Server).close(() => resolve())));

  it('sends through the server of SMTP_URL, from MAIL_FROM', async () => {
    const mailer = new SmtpMailer(
      `smtp://127.0.0.1:${port}?ignoreTLS=true`,
      'Construct <no-reply@construct.test>',
      pino({ level: 'silent' }),
    );
    try {
      await mailer.send({ to: 'ada@example.com', subject: 'Reset your password', text: 'Open this link.' });
      await mailer.send({
        to: 'grace@example.com',
        subject: 'Second',
        text: 'Again, on a pooled connection.',
      });
    } finally {
      mailer.close();
    }
    expect(received).toHaveLength(2);
    expect(received[0]!.from).toContain('<no-reply@construct.test>');
    expect(received[0]!.to).toEqual(['RCPT TO:<ada@example.com>']);
    expect(received[0]!.data).toMatch(/^Subject: Reset your password$/m);
    expect(received[0]!.data).toContain('Open this link.');
  });
});
