// Turning a stored body into something a page can show. HTML is sanitised here, on the
// server, and then shown only inside a sandboxed iframe whose own CSP forbids scripts and,
// unless the reader asked for them, every remote resource: remote images in mail are
// tracking pixels that tell the sender the mail was read and that this box exists.
import sanitizeHtml from 'sanitize-html';

const MAX_HTML = 2_000_000;

// Style values may format text but never fetch anything (no url(), image-set(), @import).
const SAFE_VALUE = /^(?!.*(url|image|expression|import|src)\s*\()[-#%.,\w\s()'"!/]*$/i;
const STYLE_PROPS = [
  'color', 'background-color', 'font-size', 'font-weight', 'font-style', 'font-family', 'text-align', 'text-decoration',
  'line-height', 'margin', 'margin-left', 'margin-right', 'margin-top', 'margin-bottom', 'padding', 'padding-left',
  'padding-right', 'padding-top', 'padding-bottom', 'border', 'border-collapse', 'width', 'max-width', 'height',
  'vertical-align', 'white-space', 'display',
];

interface SanitisedHtml {
  html: string;
  /** Remote images (or other remote sources) that were removed. */
  blockedRemote: number;
}

export function sanitiseMailHtml(raw: string, o: { loadImages: boolean }): SanitisedHtml {
  let blockedRemote = 0;
  const html = sanitizeHtml(raw.slice(0, MAX_HTML), {
    allowedTags: [
      'a', 'abbr', 'b', 'blockquote', 'br', 'caption', 'center', 'code', 'col', 'colgroup', 'dd', 'del', 'div', 'dl', 'dt', 'em',
      'font', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'img', 'ins', 'li', 'ol', 'p', 'pre', 'q', 's', 'small', 'span',
      'strike', 'strong', 'sub', 'sup', 'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'tr', 'u', 'ul',
    ],
    disallowedTagsMode: 'discard',
    allowedAttributes: {
      a: ['href', 'title'],
      img: ['src', 'alt', 'width', 'height', 'title'],
      td: ['colspan', 'rowspan', 'align', 'valign', 'width'],
      th: ['colspan', 'rowspan', 'align', 'valign', 'width'],
      table: ['width', 'cellpadding', 'cellspacing', 'border', 'align'],
      font: ['color', 'size'],
      '*': ['style', 'dir', 'lang'],
    },
    allowedStyles: { '*': Object.fromEntries(STYLE_PROPS.map((p) => [p, [SAFE_VALUE]])) },
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: o.loadImages ? ['http', 'https', 'data'] : ['data'] },
    allowProtocolRelative: false,
    transformTags: {
      a: (tagName, attribs) => ({ tagName, attribs: { ...attribs, target: '_blank', rel: 'noopener noreferrer' } }),
      img: (tagName, attribs) => {
        const src = (attribs.src ?? '').trim();
        // srcset is never kept (a second way to fetch), but an image given only by srcset is a
        // remote image like any other: it is counted as blocked, and loads from its first
        // http(s) candidate when the reader asks for images.
        const srcset = attribs.srcset ?? '';
        const remoteSet = srcset.replace(/data:\S*/gi, '').replace(/\b\d+(\.\d+)?[wx]\b|[\s,]/gi, '') !== '';
        const dataSrc = /^data:image\//i.test(src);
        if (!o.loadImages && !dataSrc) {
          if (src || remoteSet) blockedRemote++;
          const { src: _drop, ...rest } = attribs;
          return { tagName, attribs: { ...rest, alt: attribs.alt ? `[image: ${attribs.alt}]` : '[image blocked]' } };
        }
        if (!src && remoteSet) {
          const first = /https?:\/\/[^\s,]+/i.exec(srcset)?.[0];
          if (first) return { tagName, attribs: { ...attribs, src: first } };
        }
        return { tagName, attribs };
      },
    },
  });
  return { html, blockedRemote };
}

/** The iframe's whole document: its own CSP forbids scripts, and remote loads unless asked for. */
export function mailDocument(body: string, o: { loadImages: boolean }): string {
  const img = o.loadImages ? "img-src data: https: http:" : 'img-src data:';
  const csp = `default-src 'none'; ${img}; style-src 'unsafe-inline'; font-src 'none'; script-src 'none'; form-action 'none'; base-uri 'none'`;
  return `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${csp}"><meta name="referrer" content="no-referrer"><style>body{font:15px/1.45 system-ui,sans-serif;margin:8px;color:#111;word-wrap:break-word}img{max-width:100%;height:auto}</style></head><body>${body}</body></html>`;
}

interface TextBlock {
  quoted: boolean;
  text: string;
}

/** A text body split into own words and quoted replies (collapsed on the page). */
export function splitQuoted(text: string): TextBlock[] {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const blocks: TextBlock[] = [];
  const push = (quoted: boolean, line: string) => {
    const last = blocks[blocks.length - 1];
    if (last && last.quoted === quoted) last.text += `\n${line}`;
    else blocks.push({ quoted, text: line });
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const attribution = /^On .{4,200} wrote:\s*$/.test(line) && (lines[i + 1] ?? '').startsWith('>');
    const startsForward = /^-{2,}\s*(Original Message|Forwarded message)\s*-{2,}/i.test(line);
    if (startsForward) {
      push(true, lines.slice(i).join('\n'));
      break;
    }
    push(attribution || line.startsWith('>'), line);
  }
  return blocks.filter((b) => b.text.trim() !== '');
}

/**
 * How tall the mail's frame starts, from how much the sanitised HTML holds. A sandboxed frame
 * without scripts cannot size itself to its content, so the page picks a size class (the frame
 * stays resizable by the reader): a note gets a small box, a long letter most of the screen.
 */
export function mailFrameSize(html: string): 'short' | 'medium' | 'long' {
  const text = html.replace(/<[^>]*>/g, '').replace(/\s+/g, ' ').length;
  const blocks = (html.match(/<(p|br|div|tr|li|h[1-6]|img|table)\b/gi) ?? []).length;
  const weight = text + blocks * 60;
  return weight < 1200 ? 'short' : weight < 4000 ? 'medium' : 'long';
}
