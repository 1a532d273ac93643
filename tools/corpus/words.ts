// Word lists the corpus draws from. Made-up organisations use .example and .test domains.

export const PARTNER_NAMES: readonly [string, string][] = [
  ['Pat', 'Morgan'],
  ['Lee', 'Chen'],
  ['Sam', 'Rivera'],
  ['Alex', 'Kim'],
  ['Jordan', 'Blake'],
  ['Casey', 'Nguyen'],
  ['Robin', 'Patel'],
  ['Taylor', 'Brooks'],
  ['Morgan', 'Ellis'],
  ['Drew', 'Okafor'],
  ['Quinn', 'Larsen'],
  ['Avery', 'Moreau'],
];

export const FIRST_NAMES: readonly string[] = [
  'Maria', 'James', 'Aisha', 'Daniel', 'Sofia', 'Hiroshi', 'Olivia', 'Mateo', 'Priya', 'Lucas',
  'Emma', 'Noah', 'Fatima', 'Ethan', 'Chloe', 'Omar', 'Grace', 'Ivan', 'Hannah', 'Kwame',
  'Laura', 'Victor', 'Mei', 'Samuel', 'Elena', 'Tomas', 'Rachel', 'Arjun', 'Nina', 'Felix',
];

export const LAST_NAMES: readonly string[] = [
  'Lopez', 'Walker', 'Rahman', 'Fischer', 'Rossi', 'Tanaka', 'Bennett', 'Silva', 'Sharma', 'Dubois',
  'Novak', 'Hughes', 'Haddad', 'Carter', 'Lambert', 'Nasser', 'Doyle', 'Petrov', 'Klein', 'Mensah',
  'Moreno', 'Hansen', 'Wong', 'Adeyemi', 'Costa', 'Berg', 'Levy', 'Iyer', 'Kowalski', 'Schmidt',
];

/** Names that need RFC 2047 encoding in headers. */
export const ACCENTED_NAMES: readonly [string, string][] = [
  ['Jürgen', 'Müller'],
  ['Zoë', 'Durand'],
  ['José', 'Álvarez'],
  ['Søren', 'Økland'],
  ['Łukasz', 'Wójcik'],
  ['Françoise', 'Lefèvre'],
  ['Ümit', 'Yılmaz'],
  ['Chloé', 'Béranger'],
];

export const INVESTOR_PREFIXES: readonly string[] = [
  'Northwind', 'Bluefin', 'Cedar', 'Granite', 'Summit', 'Harborview', 'Aspen', 'Beacon', 'Copperleaf', 'Falcon',
  'Juniper', 'Meridian', 'Orchid', 'Pioneer', 'Quarry', 'Redwood', 'Sable', 'Tidewater', 'Willow', 'Yarrow',
  'Alder', 'Birchwood', 'Cobalt', 'Driftwood', 'Evergreen', 'Foxglove', 'Glacier', 'Heron', 'Ironbark', 'Kestrel',
  'Larkspur', 'Marlin', 'Nettle', 'Osprey', 'Pinecrest', 'Quillon', 'Rowan', 'Sequoia', 'Thistle', 'Umber',
];

export const INVESTOR_SUFFIXES: readonly [string, string][] = [
  ['Capital', 'capital'],
  ['Partners', 'partners'],
  ['Ventures', 'ventures'],
  ['Family Office', 'fo'],
  ['Endowment', 'endowment'],
  ['Holdings', 'holdings'],
  ['Asset Management', 'am'],
  ['Foundation', 'foundation'],
];

export const ROLES_UNLISTED: readonly string[] = ['assistant', 'analyst', 'operations', 'legal', 'office'];

export const COMPANIES: readonly string[] = [
  'Lumen Robotics', 'Atlas Bio', 'Kestrel Data', 'Quanta Grid', 'Helio Foods', 'Nimbus Health',
  'Vector Freight', 'Coral Energy', 'Mosaic Learning', 'Polar Sensors', 'Tessera Labs', 'Orbit Finance',
];

export const INVESTOR_TOPICS: readonly string[] = [
  'Fund III — Q{q} update',
  'Capital call notice {n}',
  'Co-investment opportunity: {company}',
  'Side letter comments',
  'K-1 timing for {year}',
  'Annual meeting logistics',
  'Follow-up from our call',
  'Data room access',
  'LP advisory committee — agenda',
  'Quarterly report Q{q} {year}',
  'Intro: {investor} <> {firm}',
  'Due diligence questionnaire',
  'Term sheet for {company} Series B',
  'Wire instructions confirmation',
];

export const INTERNAL_TOPICS: readonly string[] = [
  'IC memo draft: {company}',
  'Pipeline review',
  'Offsite planning',
  'Notes from {investor} call',
  'Portfolio valuation marks',
  'Hiring: associate role',
  'Board deck for {company}',
];

export const ENCODED_SUBJECTS: readonly { text: string; charset: 'utf-8' | 'iso-8859-1' }[] = [
  { text: 'Über die Due-Diligence — nächste Schritte', charset: 'utf-8' },
  { text: 'Réunion de suivi à Genève', charset: 'iso-8859-1' },
  { text: 'Präsentation für das Investitionskomitee', charset: 'iso-8859-1' },
  { text: 'Año fiscal: cierre y próximos pasos', charset: 'utf-8' },
  { text: '投资者更新 — Fund III', charset: 'utf-8' },
  { text: 'Årsmøte og kapitalinnkalling', charset: 'utf-8' },
];

export const NEWSLETTERS: readonly { name: string; address: string; subjects: readonly string[] }[] = [
  { name: 'VC Weekly', address: 'digest@news.vcweekly.example', subjects: ['This week in venture: #{n}', 'Deals roundup #{n}'] },
  { name: 'Private Markets Brief', address: 'brief@pmbrief.example', subjects: ['Private Markets Brief — issue {n}', 'Secondaries outlook {year}'] },
  { name: 'Conference Desk', address: 'noreply@events.summitconf.example', subjects: ['Your ticket for LP Summit {year}', 'Agenda update'] },
  { name: 'SaaS Metrics Digest', address: 'hello@saasmetrics.example', subjects: ['Benchmarks {year}: net retention', 'Digest #{n}'] },
];

export const FREEMAIL_STRANGERS: readonly string[] = ['startup.founder', 'angel.investor', 'job.seeker', 'conference.organizer'];

export const SENTENCES: readonly string[] = [
  'Thanks for the update on {company}.',
  'Could you send over the latest figures before Friday?',
  'We reviewed the materials and have a few questions on the fee structure.',
  'Happy to jump on a call next week to walk through it.',
  'Please find the documents attached for your review.',
  'Our committee meets on the {day}th and will take a decision then.',
  'The capital call is due within ten business days.',
  'Let me know if the wire instructions need to change.',
  'We are comfortable with the proposed terms in principle.',
  'Looping in my colleague who handles operations on our side.',
  'Can we move the meeting to Thursday afternoon?',
  'The quarterly report looks good; one small correction on page {day}.',
  'Appreciate the quick turnaround on this.',
  'We would like to increase our allocation if there is room.',
  'Attached is the signed subscription agreement.',
  'Following up on my earlier note about the side letter.',
];

export const LATIN1_SENTENCES: readonly string[] = [
  'Merci pour la présentation très claire.',
  'Nous avons reçu les documents et les étudions déjà.',
  'Können wir nächste Woche über die Gebühren sprechen?',
  'La réunion à Genève est confirmée pour jeudi.',
  'Grüße aus Zürich und bis bald.',
];

export const HTML_WRAP = (inner: string): string =>
  `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><div style="font-family:Arial,sans-serif">${inner}</div></body></html>`;
