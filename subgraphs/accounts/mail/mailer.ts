import type { ServerResponse } from 'node:http';
import type { Logger } from '../../common/logger';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

/** Sends the emails of accounts (password resets, invitations). */
export interface Mailer {
  send(mail: Mail): Promise<void>;
}

/**
 * The development mailer: logs each message and keeps the last ones in memory, readable at
 * GET /dev/mailbox on the accounts subgraph (development and tests only), so a developer or a
 * test can follow a link from an email without a mail server.
 */
export class DevMailbox implements Mailer {
  private readonly messages: (Mail & { sentAt: string })[] = [];

  constructor(
    private readonly logger: Logger,
    private readonly limit = 200,
  ) {}

  async send(mail: Mail): Promise<void> {
    this.messages.push({ ...mail, sentAt: new Date().toISOString() });
    if (this.messages.length > this.limit) this.messages.shift();
    this.logger.info({ to: mail.to, subject: mail.subject }, 'email kept in the development mailbox');
  }

  /** Messages to one address, newest last. */
  to(address: string): Mail[] {
    const wanted = address.toLowerCase();
    return this.messages.filter((m) => m.to.toLowerCase() === wanted);
  }

  /** GET /dev/mailbox?to=<address> */
  route = (req: { url?: string }, res: ServerResponse) => {
    const to = new URL(req.url ?? '/', 'http://localhost').searchParams.get('to');
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ messages: to ? this.to(to) : this.messages }));
  };
}
