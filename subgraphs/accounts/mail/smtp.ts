import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from '../../common/logger';
import type { Mail, Mailer } from './mailer';

/**
 * Email through an SMTP server (SMTP_URL, e.g. `smtps://user:pass@smtp.example.com:465`), with
 * a pool of connections reused between messages. Sending throws if the server refuses the
 * message; callers that must not reveal anything by it (password resets) do not wait for it.
 */
export class SmtpMailer implements Mailer {
  private readonly transport: Transporter;

  constructor(
    url: string,
    private readonly from: string,
    private readonly logger: Logger,
  ) {
    const pooled = new URL(url);
    if (!pooled.searchParams.has('pool')) pooled.searchParams.set('pool', 'true');
    this.transport = nodemailer.createTransport(pooled.toString());
  }

  async send(mail: Mail): Promise<void> {
    const info = await this.transport.sendMail({
      from: this.from,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
    });
    this.logger.info({ messageId: info.messageId, subject: mail.subject }, 'email sent');
  }

  close(): void {
    this.transport.close();
  }
}
