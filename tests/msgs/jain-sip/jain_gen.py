# Generates tests/msgs/jain-sip/verdicts.tsv from INDEX.tsv plus a heuristic model of sipkit's
# checks; overrides (after running the library) are in OVERRIDES.
import csv, re, os, sys
D = os.path.dirname(os.path.abspath(__file__))
rows = [l.rstrip('\n').split('\t') for l in open(D + '/INDEX.tsv')][1:]
COMPACT = {'i':'call-id','f':'from','t':'to','v':'via','l':'content-length','m':'contact','c':'content-type'}
OVERRIDES = {}
if os.path.exists('' + os.path.dirname(os.path.abspath(__file__)) + '/jain_overrides.tsv'):
    for l in open('' + os.path.dirname(os.path.abspath(__file__)) + '/jain_overrides.tsv'):
        p = l.rstrip('\n').split('\t')
        if len(p) >= 4: OVERRIDES[p[0]] = tuple(p[1:])
out = []
for r in rows:
    path, kind, exp, octets, desc = r[0], r[1], r[2], r[3], r[4]
    fn = path.split('/')[-1]
    jv = 'reject' if exp.startswith('invalid') else 'accept'
    desc = re.sub(r'\s+', ' ', desc)[:160]
    if kind == 'sip-url':
        v, e, why = jv, '-', 'URL case: parsed with sipkit_uri_parse; JAIN: ' + desc
    elif kind == 'sip-header':
        v, e, why = jv, '-', 'header case: wrapped in a minimal valid OPTIONS (bare LF) and checked with sipkit_header_validate; JAIN: ' + desc
    else:
        v, e, why = jv, ('-' if jv == 'accept' else 'HEADER_VALUE'), 'JAIN ' + ('accepts' if jv=='accept' else 'rejects') + ': ' + desc
    checks = '-'
    if kind == 'message' and jv == 'accept':
        d = open(D + '/' + path, 'rb').read().decode('latin1').lstrip('\r\n')
        if '\n\n' not in d:
            v, e = 'reject', 'HEADERS_END'
            why = ('DISAGREE with JAIN (accepts): the case stops after the last header line with no empty line; a datagram '
                   'without the end of the header section is HEADERS_END for us (RFC 3261 7: CRLF after the headers is '
                   'mandatory); check then-append-lf re-runs it with the LF added and expects accept | JAIN: ' + desc)
            checks = 'then-append-lf'
    if fn in OVERRIDES:
        v, e, w2 = OVERRIDES[fn][:3]
        checks = OVERRIDES[fn][3] if len(OVERRIDES[fn]) > 3 else checks
        why = ('DISAGREE with JAIN (%s): ' % ('expects exception' if jv=='reject' else 'accepts') if v != jv else '') + w2 + ' | JAIN: ' + desc
    out.append([ 'extracted/' + fn, v, e, 'datagram', 'lenient-lf', why.replace('\t',' '), checks])
with open(D + '/verdicts.tsv', 'w') as f:
    f.write('# file\tverdict\terror\tframing\tmode\twhy\tchecks\n')
    f.write('# JAIN-SIP torture cases (bare LF) in lenient-lf mode. .msg = datagram parse; .hdr = the header wrapped in a minimal\n')
    f.write('# valid OPTIONS request (LF line ends) and checked with sipkit_header_validate too; .url = sipkit_uri_parse on the whole file.\n')
    f.write('# Verdicts start from INDEX.tsv; every deliberate disagreement says DISAGREE in the why column.\n')
    for o in out: f.write('\t'.join(o) + '\n')
print(len(out), sum(1 for o in out if o[1]=='reject'))
