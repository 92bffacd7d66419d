SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;

-- The classifier alone: intent per message, robust to case, punctuation,
-- emoji, one-letter typos and missing Spanish accents.
SELECT body, (collect.classify_reply(body)).intent
  FROM (VALUES ('STOP'), ('stop.'), ('Stop!!!'), ('sTOP 🛑'), ('stpo'), ('Stooop'), ('S T O P'),
               ('UNSUBSCRIBE'), ('unsubscrbe'), ('cancel'), ('END'), ('quit'), ('ALTO'), ('Álto'), ('alto!'),
               ('STOP. wrong person'), ('please stop texting me'), ('No me manden más mensajes'),
               ('ya no me escriban'), ('remove my number'), ('Quiero darme de baja'),
               ('I never said stop'), ('Stop charging me for a visit I never had'),
               ('yes'), ('Sí'), ('si'), ('SII'), ('yse'), ('👍'), ('ok'),
               ('Yes but can I do 6 payments?'),
               ('I already paid'), ('ya pague'), ('Ya pagué'), ('alredy paid'),
               ('my insurance should have covered it'), ('mi seguro deberia cubrirlo'), ('insurnace should pay'),
               ('I lost my job'), ('perdi mi trabajo'), ('can''t aford it'),
               ('wrong amount'), ('I never had that visit'), ('nunca fui a esa cita'),
               ('I don''t want a plan'), ('I don''t want a plan, I''ll pay it all Friday'),
               ('I don''t have insurance'), ('payment plan please'), ('paymnet plan'), ('plan de pagos'),
               ('What is this charge for?'), ('¿Cuánto debo?'), ('Thanks'), ('Gracias'), (''), ('???'),
               ('😡😡'), ('Oh great, another bill. Thanks a lot'), ('This is ridiculous')) AS t(body);

-- Sentiment: a lexicon with negation, intensifiers, capitals and sarcasm
SELECT (collect.classify_reply('this is terrible')).sentiment < 0 AS negative,
       (collect.classify_reply('this is not terrible')).sentiment > 0 AS negation_flips,
       (collect.classify_reply('this is really terrible')).sentiment
         < (collect.classify_reply('this is terrible')).sentiment AS intensifier_strengthens,
       (collect.classify_reply('this is TERRIBLE')).sentiment
         < (collect.classify_reply('this is terrible')).sentiment AS capitals_strengthen,
       (collect.classify_reply('terrible!!!')).sentiment
         < (collect.classify_reply('terrible')).sentiment AS exclamations_strengthen,
       (collect.classify_reply('thank you so much, very helpful')).sentiment > 0.5 AS positive,
       (collect.classify_reply('great, another text. love it')).sentiment < 0 AS sarcasm_flips,
       (collect.classify_reply('esto es un abuso, estoy muy enojada')).sentiment <= -0.6 AS spanish_strongly_negative,
       (collect.classify_reply('muchas gracias, muy amable')).sentiment > 0.5 AS spanish_positive;

-- stop_like is set for opt-out keywords and phrases only
SELECT (collect.classify_reply('STOP')).stop_like, (collect.classify_reply('thanks')).stop_like,
       (collect.classify_reply('I paid')).stop_like;

-- any input is safe: very long text, floods of emoji, one endless word
SELECT (collect.classify_reply(repeat('stop ', 5000))).intent AS long_input,
       (collect.classify_reply(repeat('🙂', 3000))).intent AS emoji_flood,
       (collect.classify_reply(repeat('a', 100000))).intent AS one_long_word;
