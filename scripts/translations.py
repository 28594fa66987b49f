"""The hub's public strings (banner and privacy center) in every language of
settings.LANGUAGES: writes locale/<lang>/LC_MESSAGES/django.po. Run it after changing a string,
then `uv run python manage.py compilemessages` (make messages does both); both files are
committed, so an install needs no gettext tools."""

from __future__ import annotations

from pathlib import Path

LOCALE = Path(__file__).resolve().parent.parent / "locale"
LANGS = ["fr", "de", "es", "it", "nl", "pt_BR"]

# msgid -> translations in LANGS order
STRINGS: dict[str, list[str]] = {
    "Privacy choices": [
        "Choix de confidentialité",
        "Datenschutzeinstellungen",
        "Opciones de privacidad",
        "Scelte sulla privacy",
        "Privacykeuzes",
        "Escolhas de privacidade",
    ],
    "Accept all": [
        "Tout accepter",
        "Alle akzeptieren",
        "Aceptar todo",
        "Accetta tutto",
        "Alles accepteren",
        "Aceitar tudo",
    ],
    "Reject all": [
        "Tout refuser",
        "Alle ablehnen",
        "Rechazar todo",
        "Rifiuta tutto",
        "Alles weigeren",
        "Recusar tudo",
    ],
    "Save choices": [
        "Enregistrer mes choix",
        "Auswahl speichern",
        "Guardar opciones",
        "Salva le scelte",
        "Keuzes opslaan",
        "Salvar escolhas",
    ],
    "always on": [
        "toujours actif",
        "immer aktiv",
        "siempre activo",
        "sempre attivo",
        "altijd aan",
        "sempre ativo",
    ],
    "Privacy center": [
        "Centre de confidentialité",
        "Datenschutzcenter",
        "Centro de privacidad",
        "Centro privacy",
        "Privacycentrum",
        "Central de privacidade",
    ],
    "Your browser's Global Privacy Control signal is honoured: you are opted out of the sale "
    "or sharing of your personal information.": [
        "Le signal Global Privacy Control de votre navigateur est respecté : vos données "
        "personnelles ne sont ni vendues ni partagées.",
        "Das Global-Privacy-Control-Signal Ihres Browsers wird beachtet: Ihre personenbezogenen "
        "Daten werden weder verkauft noch weitergegeben.",
        "Se respeta la señal Global Privacy Control de su navegador: sus datos personales no se "
        "venden ni se comparten.",
        "Il segnale Global Privacy Control del tuo browser è rispettato: i tuoi dati personali "
        "non vengono venduti né condivisi.",
        "Het Global Privacy Control-signaal van uw browser wordt gerespecteerd: uw "
        "persoonsgegevens worden niet verkocht of gedeeld.",
        "O sinal Global Privacy Control do seu navegador é respeitado: seus dados pessoais não "
        "são vendidos nem compartilhados.",
    ],
    "See and change how %(name)s may use your data. Withdrawing is as easy as giving, and "
    "takes effect at once.": [
        "Consultez et modifiez l'usage que %(name)s peut faire de vos données. Retirer son "
        "consentement est aussi simple que le donner, et prend effet immédiatement.",
        "Sehen und ändern Sie, wie %(name)s Ihre Daten verwenden darf. Der Widerruf ist so "
        "einfach wie die Einwilligung und wirkt sofort.",
        "Consulte y cambie cómo puede usar %(name)s sus datos. Retirar el consentimiento es tan "
        "fácil como darlo y surte efecto de inmediato.",
        "Vedi e modifica come %(name)s può usare i tuoi dati. Revocare è facile quanto dare il "
        "consenso e ha effetto subito.",
        "Bekijk en wijzig hoe %(name)s uw gegevens mag gebruiken. Intrekken is even eenvoudig "
        "als toestemming geven en geldt meteen.",
        "Veja e altere como %(name)s pode usar seus dados. Retirar o consentimento é tão fácil "
        "quanto dá-lo, e vale na hora.",
    ],
    "Your rights": [
        "Vos droits",
        "Ihre Rechte",
        "Sus derechos",
        "I tuoi diritti",
        "Uw rechten",
        "Seus direitos",
    ],
    "Ask for a copy of your data, its correction or erasure, to restrict or object to its use, "
    "or to opt out of its sale or sharing. We confirm your e-mail address with a code, then "
    "answer within the legal deadline.": [
        "Demandez une copie de vos données, leur rectification ou leur effacement, la limitation "
        "de leur usage ou opposez-vous-y, ou refusez leur vente ou leur partage. Nous "
        "vérifions votre adresse e-mail par un code, puis répondons dans le délai légal.",
        "Verlangen Sie eine Kopie Ihrer Daten, deren Berichtigung oder Löschung, die "
        "Einschränkung der Verarbeitung, widersprechen Sie ihr oder dem Verkauf und der "
        "Weitergabe. Wir bestätigen Ihre E-Mail-Adresse mit einem Code und antworten innerhalb "
        "der gesetzlichen Frist.",
        "Solicite una copia de sus datos, su rectificación o supresión, la limitación de su uso "
        "u oposición a él, o que no se vendan ni compartan. Confirmamos su dirección de correo "
        "con un código y respondemos dentro del plazo legal.",
        "Chiedi una copia dei tuoi dati, la rettifica o la cancellazione, la limitazione o "
        "l'opposizione al loro uso, o di non venderli né condividerli. Confermiamo il tuo "
        "indirizzo e-mail con un codice, poi rispondiamo entro il termine di legge.",
        "Vraag een kopie van uw gegevens, correctie of verwijdering, beperking van of bezwaar "
        "tegen het gebruik, of dat ze niet worden verkocht of gedeeld. We bevestigen uw "
        "e-mailadres met een code en antwoorden binnen de wettelijke termijn.",
        "Peça uma cópia dos seus dados, a correção ou eliminação, a limitação ou oposição ao "
        "seu uso, ou que não sejam vendidos nem compartilhados. Confirmamos seu e-mail com um "
        "código e respondemos dentro do prazo legal.",
    ],
    "Request": ["Demande", "Anliegen", "Solicitud", "Richiesta", "Verzoek", "Solicitação"],
    "Give me a copy of my data": [
        "Obtenir une copie de mes données",
        "Kopie meiner Daten erhalten",
        "Obtener una copia de mis datos",
        "Ricevere una copia dei miei dati",
        "Een kopie van mijn gegevens",
        "Receber uma cópia dos meus dados",
    ],
    "Send my data in a portable format": [
        "Recevoir mes données dans un format portable",
        "Meine Daten in einem übertragbaren Format",
        "Enviar mis datos en un formato portable",
        "Inviare i miei dati in un formato portabile",
        "Mijn gegevens in een overdraagbaar formaat",
        "Enviar meus dados em formato portável",
    ],
    "Erase my data": [
        "Effacer mes données",
        "Meine Daten löschen",
        "Suprimir mis datos",
        "Cancellare i miei dati",
        "Mijn gegevens wissen",
        "Eliminar meus dados",
    ],
    "Correct my data": [
        "Rectifier mes données",
        "Meine Daten berichtigen",
        "Rectificar mis datos",
        "Rettificare i miei dati",
        "Mijn gegevens corrigeren",
        "Corrigir meus dados",
    ],
    "Restrict the use of my data": [
        "Limiter l'usage de mes données",
        "Verarbeitung meiner Daten einschränken",
        "Limitar el uso de mis datos",
        "Limitare l'uso dei miei dati",
        "Het gebruik van mijn gegevens beperken",
        "Limitar o uso dos meus dados",
    ],
    "Object to a use of my data": [
        "M'opposer à un usage de mes données",
        "Einer Verwendung meiner Daten widersprechen",
        "Oponerme a un uso de mis datos",
        "Oppormi a un uso dei miei dati",
        "Bezwaar maken tegen een gebruik van mijn gegevens",
        "Opor-me a um uso dos meus dados",
    ],
    "Do not sell or share my personal information": [
        "Ne pas vendre ni partager mes données personnelles",
        "Meine personenbezogenen Daten nicht verkaufen oder weitergeben",
        "No vender ni compartir mi información personal",
        "Non vendere né condividere i miei dati personali",
        "Mijn persoonsgegevens niet verkopen of delen",
        "Não vender nem compartilhar minhas informações pessoais",
    ],
    "E-mail address": [
        "Adresse e-mail",
        "E-Mail-Adresse",
        "Correo electrónico",
        "Indirizzo e-mail",
        "E-mailadres",
        "Endereço de e-mail",
    ],
    "Where you live": [
        "Où vous habitez",
        "Wo Sie wohnen",
        "Dónde vive",
        "Dove vivi",
        "Waar u woont",
        "Onde você mora",
    ],
    "European Union / EEA": [
        "Union européenne / EEE",
        "Europäische Union / EWR",
        "Unión Europea / EEE",
        "Unione europea / SEE",
        "Europese Unie / EER",
        "União Europeia / EEE",
    ],
    "United Kingdom": [
        "Royaume-Uni",
        "Vereinigtes Königreich",
        "Reino Unido",
        "Regno Unito",
        "Verenigd Koninkrijk",
        "Reino Unido",
    ],
    "Brazil": ["Brésil", "Brasilien", "Brasil", "Brasile", "Brazilië", "Brasil"],
    "Canada": ["Canada", "Kanada", "Canadá", "Canada", "Canada", "Canadá"],
    "Other US state": [
        "Autre État des États-Unis",
        "Anderer US-Bundesstaat",
        "Otro estado de EE. UU.",
        "Altro stato degli USA",
        "Andere Amerikaanse staat",
        "Outro estado dos EUA",
    ],
    "Anything we should know (optional)": [
        "Autre chose à nous dire (facultatif)",
        "Was wir wissen sollten (optional)",
        "Algo que debamos saber (opcional)",
        "Altro che dovremmo sapere (facoltativo)",
        "Wat we moeten weten (optioneel)",
        "Algo que devemos saber (opcional)",
    ],
    "Send request": [
        "Envoyer la demande",
        "Anfrage senden",
        "Enviar solicitud",
        "Invia richiesta",
        "Verzoek versturen",
        "Enviar solicitação",
    ],
    "Enter the code we mailed you.": [
        "Saisissez le code que nous vous avons envoyé.",
        "Geben Sie den Code ein, den wir Ihnen gesendet haben.",
        "Introduzca el código que le enviamos.",
        "Inserisci il codice che ti abbiamo inviato.",
        "Voer de code in die we u hebben gemaild.",
        "Digite o código que enviamos para você.",
    ],
    "Reference": ["Référence", "Referenz", "Referencia", "Riferimento", "Referentie", "Referência"],
    "Code": ["Code", "Code", "Código", "Codice", "Code", "Código"],
    "Confirm": ["Confirmer", "Bestätigen", "Confirmar", "Conferma", "Bevestigen", "Confirmar"],
    "Unknown property.": [
        "Site inconnu.",
        "Unbekannte Website.",
        "Sitio desconocido.",
        "Sito sconosciuto.",
        "Onbekende website.",
        "Site desconhecido.",
    ],
    "If we hold data on this address, a confirmation code is on its way to it. Enter it to start "
    "your request. Your reference: {reference}.": [
        "Si nous détenons des données liées à cette adresse, un code de confirmation y est en "
        "route. Saisissez-le pour lancer votre demande. Votre référence : {reference}.",
        "Wenn wir Daten zu dieser Adresse haben, ist ein Bestätigungscode dorthin unterwegs. Geben "
        "Sie ihn ein, um Ihre Anfrage zu starten. Ihre Referenz: {reference}.",
        "Si tenemos datos de esta dirección, le hemos enviado un código de confirmación. "
        "Introdúzcalo para iniciar su solicitud. Su referencia: {reference}.",
        "Se abbiamo dati legati a questo indirizzo, vi stiamo inviando un codice di conferma. "
        "Inseritelo per avviare la richiesta. Il vostro riferimento: {reference}.",
        "Als we gegevens over dit adres hebben, is er een bevestigingscode naar onderweg. Voer "
        "die in om uw verzoek te starten. Uw referentie: {reference}.",
        "Se tivermos dados deste endereço, um código de confirmação está a caminho dele. "
        "Digite-o para iniciar sua solicitação. Sua referência: {reference}.",
    ],
    "Thank you: request {reference} is confirmed. We will answer by {date}.": [
        "Merci : la demande {reference} est confirmée. Nous répondrons au plus tard le {date}.",
        "Danke: Die Anfrage {reference} ist bestätigt. Wir antworten bis zum {date}.",
        "Gracias: la solicitud {reference} está confirmada. Responderemos antes del {date}.",
        "Grazie: la richiesta {reference} è confermata. Risponderemo entro il {date}.",
        "Bedankt: verzoek {reference} is bevestigd. We antwoorden uiterlijk op {date}.",
        "Obrigado: a solicitação {reference} está confirmada. Responderemos até {date}.",
    ],
    "Something went wrong; try again.": [
        "Une erreur s'est produite ; réessayez.",
        "Etwas ist schiefgelaufen; bitte versuchen Sie es erneut.",
        "Algo salió mal; inténtelo de nuevo.",
        "Qualcosa è andato storto; riprovate.",
        "Er ging iets mis; probeer het opnieuw.",
        "Algo deu errado; tente novamente.",
    ],
    "At most 2,000 characters.": [
        "2 000 caractères au plus.",
        "Höchstens 2.000 Zeichen.",
        "Como máximo 2.000 caracteres.",
        "Al massimo 2.000 caratteri.",
        "Maximaal 2.000 tekens.",
        "No máximo 2.000 caracteres.",
    ],
    "Your message is too long: shorten it to 2,000 characters at most.": [
        "Votre message est trop long : raccourcissez-le à 2 000 caractères au plus.",
        "Ihre Nachricht ist zu lang: Bitte kürzen Sie sie auf höchstens 2.000 Zeichen.",
        "Su mensaje es demasiado largo: acórtelo a 2.000 caracteres como máximo.",
        "Il messaggio è troppo lungo: accorciatelo a non più di 2.000 caratteri.",
        "Uw bericht is te lang: kort het in tot maximaal 2.000 tekens.",
        "Sua mensagem é longa demais: reduza-a para no máximo 2.000 caracteres.",
    ],
}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write() -> None:
    for index, lang in enumerate(LANGS):
        lines = [
            'msgid ""',
            'msgstr ""',
            '"Content-Type: text/plain; charset=UTF-8\\n"',
            f'"Language: {lang}\\n"',
            "",
        ]
        for msgid, translations in STRINGS.items():
            flag = ["#, python-format"] if "%(" in msgid else []
            lines += [*flag, f"msgid {_quote(msgid)}", f"msgstr {_quote(translations[index])}", ""]
        path = LOCALE / lang / "LC_MESSAGES" / "django.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    write()
