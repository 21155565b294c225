"""The embedded sample corpus: invented Spanish tweets in the ProfNER layout.

It exists so ``harness run`` works on a fresh machine without downloads, and so tests
exercise the same reader as the real corpus. The tweets are written by this project (no
real tweet is reproduced); mentions are marked inline as ``[text|TYPE]`` and this module
turns them into the official layout. Regenerate the shipped files with::

    python -m core.samples core/sample_corpus
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from core.fileio import atomic_write_text

_MARK = re.compile(r"\[([^\[\]|]+)\|([A-Z_]+)\]")

TRAIN = [
    "Gracias a todos los [sanitarios|PROFESION] que siguen al pie del cañón 👏👏",
    "Mi madre es [enfermera|PROFESION] en el hospital de La Paz y hoy ha doblado turno otra vez",
    "El [alcalde|PROFESION] ha anunciado el cierre de los parques hasta nuevo aviso",
    "Llevo tres meses en [ERTE|SITUACION_LABORAL] y todavía no he cobrado nada #COVID19",
    "Los [médicos|PROFESION] de atención primaria piden más test ya",
    "Hoy he salido a aplaudir a las 8, como cada día 🙌",
    "Me han dejado [en paro|SITUACION_LABORAL] después de 12 años en la empresa 😔",
    "El [presidente del Gobierno|PROFESION] comparece esta tarde en rueda de prensa",
    "Qué ganas de que abran los bares y poder tomar algo con los amigos",
    "Las [cajeras|PROFESION] de los supermercados también son heroínas\n#QuedateEnCasa",
    "Mi hermano es [policía local|PROFESION] y está agotado",
    "Sin [autónomos|SITUACION_LABORAL] no hay economía, ayudas ya!!",
    "Los [transportistas|PROFESION] no han parado ni un solo día 🚚",
    "La [ministra de Trabajo|PROFESION] promete agilizar los ERTE",
    "Hoy toca maratón de series en casa, no hay más planes",
    "Los [científicos|PROFESION] y [médicos|PROFESION]!#COVID19 merecen más recursos",
    "Soy [profesora|PROFESION] y dar clase por videollamada es agotador",
    "El [rey|PROFESION] visita un hospital de campaña en Madrid",
    "Muchos [trabajadores temporales|SITUACION_LABORAL] se han quedado sin contrato",
    "Lloviendo otra vez en Bilbao, como siempre ☔",
    "La [Guardia Civil|PROFESION].176 años protegiendo a la ciudadanía",
    "Mi vecino es [farmacéutico|PROFESION] y me ha conseguido mascarillas",
    "Los [repartidores|PROFESION] se juegan la salud por cuatro euros",
    "Estoy [desempleado|SITUACION_LABORAL] desde marzo y nadie contrata",
    "Grande el [portero|PROFESION] del Athletic ayer, qué paradas ⚽",
    "Los [agricultores|PROFESION] piden que dejen pasar a los temporeros",
    "Qué miedo da ir al supermercado ahora mismo",
    "El [director|PROFESION] del centro de salud dice que faltan EPIs",
    'Los [sanitarios|PROFESION]"Han trabajado sin descanso" según el consejero',
    "[Médicos|PROFESION]/[profesores|PROFESION] y [limpiadoras|PROFESION], gracias 🏃🏽",
    "Los [políticos|PROFESION]?Y sobre todo los de siempre, sin mascarilla",
    "Mi prima está [de baja|SITUACION_LABORAL] por ansiedad tras meses en la UCI",
    "Ánimo a las [enfermer@s|PROFESION] de urgencias, sois lo más",
    "Hoy hace un día precioso para pasear al perro 🐕",
    "El [consejero de Sanidad|PROFESION] no sabe cuántos test se han hecho",
    "Los [jubilados|SITUACION_LABORAL] lo están pasando fatal solos en casa",
    "Los [bomberos|PROFESION] desinfectan las residencias de mayores",
    "A los [camareros|PROFESION] nos han dejado tirados otra vez",
    "Vaya partido más aburrido, me voy a dormir",
    "La [jueza|PROFESION] archiva la causa contra el [delegado del Gobierno|PROFESION]",
    "Mi padre, [taxista|PROFESION], lleva sin trabajar desde el [estado de alarma|FIGURATIVA]",
    "Ayudando a [cocinar|ACTIVIDAD] en el comedor social del barrio",
]

VALID = [
    "Las [enfermeras|PROFESION] de la UCI están al límite",
    "El [alcalde|PROFESION] de Vigo pide calma a los vecinos",
    "Me he quedado [en paro|SITUACION_LABORAL] con dos hijos y una hipoteca 😢",
    "Hoy no me apetece nada salir de casa",
    "Gracias a los [médicos|PROFESION], [policías|PROFESION] y [cajeras|PROFESION]",
    "Los [autónomos|SITUACION_LABORAL] necesitan ayudas directas ya",
    "El [ministro de Sanidad|PROFESION] da el parte diario de contagios",
    "Qué bien huele el pan recién hecho por la mañana 🥖",
    "Mi tía es [limpiadora|PROFESION] en un hospital y no tiene EPIs",
    "Los [sanitarios|PROFESION]!Necesitamos más material",
    "Sigo en [ERTE|SITUACION_LABORAL] y sin saber nada del SEPE",
    "El [presidente|PROFESION] dice que lo peor ya ha pasado",
    "Mañana empieza la desescalada en mi provincia 🎉",
    "Los [repartidores|PROFESION] de Glovo protestan por sus condiciones",
    "Mi hermana, [profesora|PROFESION] de infantil, prepara clases online",
    "Un aplauso enorme para los [transportistas|PROFESION]\n💪",
]

TEST = [
    "Los médicos del hospital piden más camas",
    "Llevo dos meses en ERTE y sin cobrar",
    "Qué ganas de playa, de verdad",
    "El alcalde de Sevilla cierra los parques",
    "Las cajeras del súper merecen un monumento 👏",
    "Estoy en paro y buscando trabajo de lo que sea",
    "Hoy he hecho pan casero por primera vez",
    "Los enfermeros de urgencias no pueden más",
]

SPLITS = {"train": TRAIN, "valid": VALID, "test": TEST}
FIRST_ID = {"train": 900000000000000001, "valid": 910000000000000001, "test": 920000000000000001}


def unmark(marked: str) -> tuple[str, list[tuple[int, int, str]]]:
    """Strip ``[text|TYPE]`` marks, returning the text and its (begin, end, type) spans."""
    text, spans, pos = [], [], 0
    length = 0
    for match in _MARK.finditer(marked):
        before = marked[pos : match.start()]
        text.append(before)
        length += len(before)
        mention, etype = match.group(1), match.group(2)
        spans.append((length, length + len(mention), etype))
        text.append(mention)
        length += len(mention)
        pos = match.end()
    text.append(marked[pos:])
    return "".join(text), spans


def write_sample_corpus(dest: Path) -> None:
    """Write the sample corpus in the ProfNER layout under ``dest/profner``."""
    root = dest / "profner"
    for split, tweets in SPLITS.items():
        rows_7a = ["tweet_id\tlabel"]
        rows_7b = ["tweet_id\tbegin\tend\ttype\textraction"]
        for offset, marked in enumerate(tweets):
            tweet_id = str(FIRST_ID[split] + offset)
            text, spans = unmark(marked)
            atomic_write_text(root / "txt-files" / split / f"{tweet_id}.txt", text)
            if split == "test":
                continue
            evaluated = [s for s in spans if s[2] in ("PROFESION", "SITUACION_LABORAL")]
            rows_7a.append(f"{tweet_id}\t{1 if evaluated else 0}")
            rows_7b.extend(f"{tweet_id}\t{b}\t{e}\t{t}\t{text[b:e]}" for b, e, t in spans)
            if not spans:
                rows_7b.append(f"{tweet_id}\t-\t-\t-\t-")
            ann = "".join(
                f"T{i}\t{t} {b} {e}\t{text[b:e]}\n" for i, (b, e, t) in enumerate(spans, start=1)
            )
            atomic_write_text(root / "subtask-2" / "brat" / split / f"{tweet_id}.ann", ann)
            atomic_write_text(root / "subtask-2" / "brat" / split / f"{tweet_id}.txt", text)
        if split != "test":
            atomic_write_text(root / "subtask-1" / f"{split}.tsv", "\n".join(rows_7a) + "\n")
            atomic_write_text(
                root / "subtask-2" / "tsv" / f"{split}.tsv", "\n".join(rows_7b) + "\n"
            )
    atomic_write_text(
        root / "README.txt",
        "Sample corpus of ner-harness: invented Spanish tweets in the layout of the ProfNER\n"
        "gold standard (SMM4H 2021 Task 7). Written by the ner-harness authors; it is not\n"
        "real data and its figures say nothing about real systems. Generated by\n"
        "core/samples.py.\n",
    )


if __name__ == "__main__":
    write_sample_corpus(Path(sys.argv[1] if len(sys.argv) > 1 else "core/sample_corpus"))
