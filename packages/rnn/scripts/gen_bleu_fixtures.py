#!/usr/bin/python3
"""Golden BLEU values for packages/rnn/test/bleu.test.ts from NLTK (Debian python3-nltk 3.8).

For 24 fixed (hypothesis, references) pairs:
  d2l[k]  nltk.translate.bleu_score.sentence_bleu([reference0], hypothesis, weights) with
          weights = [0.5**n for n in 1..min(k, len(hypothesis))]: d2l's BLEU, exp(min(0, 1 - r/c))
          * prod p_n^(1/2^n), is exactly NLTK's brevity penalty times the weighted geometric mean
          with these weights (d2l stops at n = len(prediction));
  corpus  nltk corpus_bleu(all references, all hypotheses), BLEU-4 with uniform weights, no smoothing,
          over all pairs and over the first 12.

Run: /usr/bin/python3 packages/rnn/scripts/gen_bleu_fixtures.py
"""
import json
import os
import warnings

from nltk.translate.bleu_score import corpus_bleu, sentence_bleu

warnings.filterwarnings('ignore')
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'bleu.json')

PAIRS = [
    ('il est calme .', ['il est calme .', 'il est tranquille .']),
    ('je suis chez moi .', ['je suis chez moi .', 'je suis à la maison .']),
    ('va !', ['va !', 'marche .', 'bouge !']),
    ("j'ai perdu .", ["j'ai perdu .", 'je perdis .']),
    ('il est mouillé .', ['il est calme .']),
    ('je suis à la maison .', ['je suis chez moi .', 'je suis à la maison .']),
    ('the cat is on the mat', ['there is a cat on the mat', 'the cat is on the mat']),
    ('the the the the the the the', ['the cat is on the mat', 'there is a cat on the mat']),
    ('a cat sat on the mat', ['the cat sat on the mat']),
    ('the cat sat on the red mat today', ['the cat sat on the mat']),
    ('it is a guide to action which ensures that the military always obeys the commands of the party',
     ['it is a guide to action that ensures that the military will forever heed party commands',
      'it is the guiding principle which guarantees the military forces always being under the command of the party',
      'it is the practical guide for the army always to heed the directions of the party']),
    ('it is to insure the troops forever hearing the activity guidebook that party direct',
     ['it is a guide to action that ensures that the military will forever heed party commands',
      'it is the guiding principle which guarantees the military forces always being under the command of the party']),
    ('he read the book because he was interested in world history',
     ['he was interested in world history because he read the book']),
    ('nous sommes en retard .', ['nous sommes en retard .', 'on est en retard .']),
    ('elle a trois enfants .', ['elle a deux enfants .']),
    ('tom est parti .', ['tom est parti .', 'tom est partie .', 'tom a disparu .']),
    ('je ne sais pas pourquoi .', ['je ne sais pas pourquoi .', "j'ignore pourquoi ."]),
    ('c est un bon livre', ["c'est un bon livre .", 'ceci est un bon livre .']),
    ('le chien court vite dans le parc', ['le chien court dans le parc', 'un chien court vite dans un parc']),
    ('merci beaucoup .', ['merci beaucoup !', 'merci bien .']),
    ('je suis très fatigué ce soir .', ['je suis très fatigué ce soir .']),
    ('a b c d e f g h', ['a b c d x f g h']),
    ('a b', ['a b c d e f g h']),
    ('x y z w', ['a b c d']),
]


def d2l(hyp, ref, k):
    h = hyp.split()
    w = [0.5 ** n for n in range(1, min(k, len(h)) + 1)]
    return sentence_bleu([ref.split()], h, weights=w)


cases = []
for hyp, refs in PAIRS:
    cases.append({'hypothesis': hyp, 'references': refs, 'd2l': {str(k): d2l(hyp, refs[0], k) for k in (2, 3, 4)}})
refs_all = [[r.split() for r in refs] for _, refs in PAIRS]
hyps_all = [h.split() for h, _ in PAIRS]
out = {
    'nltk': __import__('nltk').__version__,
    'cases': cases,
    'corpusBleu4': corpus_bleu(refs_all, hyps_all),
    'corpusBleu4First12': corpus_bleu(refs_all[:12], hyps_all[:12]),
    'corpusBleu2': corpus_bleu(refs_all, hyps_all, weights=(0.5, 0.5)),
}
with open(OUT, 'w') as f:
    json.dump(out, f, indent=1, ensure_ascii=False)
print(out['corpusBleu4'], out['corpusBleu4First12'], out['corpusBleu2'])
