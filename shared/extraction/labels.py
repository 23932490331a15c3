"""Label vocabularies for English, German, French, Dutch, Spanish and Italian.

Each entry maps a label as printed on invoices to the field it introduces. Labels
are matched after `fold()` (lowercase, no accents, punctuation as spaces), so
"N° de facture", "Nº de factura" and "Rechnungs-Nr." are written here the way they
are printed. The longest label wins, which is how "Total HT" (subtotal) beats
"Total" (invoice total) and "Total VAT" (tax) beats both.

Keys that are not invoice fields steer the extractor: `ignore` labels stop a
value from being read as a neighbouring field ("Delivery date" is not the invoice
date); `carried_forward` marks subtotal rows inside a table continued over pages;
`customer_block` and `vendor_block` start address blocks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.extraction.text import tokens

LANGUAGES = ("en", "de", "fr", "nl", "es", "it")

# field -> language -> labels
_VOCABULARY: dict[str, dict[str, tuple[str, ...]]] = {
    "invoice_id": {
        "en": ("Invoice No", "Invoice Number", "Invoice #", "Invoice ID", "Bill No", "Bill Number",
               "Credit Note No", "Credit Note Number", "Credit Note #", "Document No", "Invoice Ref",
               "Reference No"),
        "de": ("Rechnungsnummer", "Rechnung Nr", "Rechnungs-Nr", "Rechnungsnr", "Re-Nr", "RE-Nr",
               "Gutschriftnummer", "Gutschrift Nr", "Gutschrifts-Nr", "Belegnummer", "Beleg-Nr"),
        "fr": ("Facture n°", "Facture no", "N° de facture", "Numéro de facture", "No facture",
               "N° facture", "Avoir n°", "N° d'avoir", "Numéro d'avoir", "Réf facture"),
        "nl": ("Factuurnummer", "Factuur nr", "Factuurnr", "Factuur nummer", "Creditnota nr",
               "Creditnotanummer", "Creditnota nummer"),
        "es": ("Nº de factura", "N° de factura", "Número de factura", "Factura n.º", "Factura nº",
               "Factura n°", "Factura no", "Num factura", "Nº factura", "Nota de crédito nº",
               "Número de nota de crédito"),
        "it": ("Fattura n", "Fattura nr", "Numero fattura", "N. fattura", "Nr. fattura",
               "Fattura numero", "Numero documento", "Num documento", "Num fattura", "Doc n",
               "Nota di credito n", "Numero nota di credito"),
    },
    "invoice_date": {
        "en": ("Invoice Date", "Date", "Date of Issue", "Issue Date", "Dated", "Billing Date",
               "Credit Note Date", "Date issued", "Invoice Dt"),
        "de": ("Rechnungsdatum", "Datum", "Ausstellungsdatum", "Belegdatum", "Gutschriftsdatum",
               "Rechnungs-Datum"),
        "fr": ("Date de facture", "Date", "Date de facturation", "Date d'émission", "Émise le",
               "Date de l'avoir", "Date facture"),
        "nl": ("Factuurdatum", "Datum", "Factuur datum", "Datum factuur", "Creditnotadatum"),
        "es": ("Fecha de factura", "Fecha", "Fecha de emisión", "Fecha factura", "Fecha de expedición"),
        "it": ("Data fattura", "Data", "Data di emissione", "Data documento", "Data del documento"),
    },
    "due_date": {
        "en": ("Due Date", "Payment Due", "Due", "Pay By", "Payment Due Date", "Due On", "Payable By"),
        "de": ("Fälligkeitsdatum", "Fällig am", "Fällig bis", "Zahlbar bis", "Fälligkeit",
               "Zahlungsziel", "Zahlungsfrist", "Bitte zahlen Sie bis", "Zahlbar bis zum", "Fällig zum"),
        "fr": ("Date d'échéance", "Échéance", "A payer avant le", "À régler avant le", "Payable le",
               "Date limite de paiement", "Payable avant le"),
        "nl": ("Vervaldatum", "Uiterste betaaldatum", "Te betalen voor", "Betalen voor", "Vervaldag"),
        "es": ("Fecha de vencimiento", "Vencimiento", "Fecha límite de pago", "Pagar antes de",
               "Vence el", "Fecha vencimiento", "Vto", "A pagar antes del", "Pagadero el"),
        "it": ("Scadenza", "Data di scadenza", "Data scadenza", "Scadenza pagamento", "Pagare entro",
               "Da pagare entro il", "Da pagare entro", "Pagamento entro il", "Scade il"),
    },
    "purchase_order": {
        "en": ("PO Number", "PO No", "PO #", "Purchase Order", "Purchase Order No", "Order No",
               "Order Number", "Your Order", "Your Reference", "P.O. Number", "P.O.", "PO"),
        "de": ("Bestellnummer", "Bestell-Nr", "Bestellung", "Ihre Bestellung", "Auftragsnummer",
               "Auftrags-Nr", "Ihre Bestellnummer", "Bestellnr"),
        "fr": ("Bon de commande", "N° de commande", "Commande n°", "Numéro de commande",
               "Votre commande", "Réf commande", "N° bon de commande"),
        "nl": ("Inkoopordernummer", "Ordernummer", "Bestelnummer", "Inkooporder", "Uw referentie",
               "Uw bestelling", "Order nr"),
        "es": ("Pedido", "Nº de pedido", "N° de pedido", "Número de pedido", "Orden de compra",
               "Su pedido", "Pedido nº"),
        "it": ("Ordine", "Numero ordine", "N. ordine", "Ordine n", "Vostro ordine", "Rif ordine",
               "Ordine di acquisto"),
    },
    "customer_id": {
        "en": ("Customer No", "Customer Number", "Customer ID", "Customer #", "Account No",
               "Account Number", "Client No", "Client ID", "Customer Ref"),
        "de": ("Kundennummer", "Kunden-Nr", "Kundennr", "Kunden Nr", "Kunde Nr"),
        "fr": ("N° client", "Numéro client", "Code client", "Client n°", "Réf client", "No client"),
        "nl": ("Klantnummer", "Klant nr", "Klantnr", "Debiteurnummer", "Klant-ID", "Debiteurnr",
               "Debiteur nr", "Relatienummer"),
        "es": ("Nº de cliente", "N° de cliente", "Número de cliente", "Cliente nº", "Código de cliente",
               "Cliente n°"),
        "it": ("Codice cliente", "Cliente n", "N. cliente", "Numero cliente", "Cod cliente"),
    },
    "payment_terms": {
        "en": ("Payment Terms", "Terms", "Terms of Payment", "Payment Conditions"),
        "de": ("Zahlungsbedingungen", "Zahlungskonditionen", "Zahlungsbedingung", "Konditionen"),
        "fr": ("Conditions de paiement", "Conditions de règlement", "Conditions"),
        "nl": ("Betalingsvoorwaarden", "Betalingstermijn", "Betaalvoorwaarden", "Voorwaarden"),
        "es": ("Condiciones de pago", "Términos de pago", "Plazo de pago"),
        "it": ("Condizioni di pagamento", "Termini di pagamento", "Pagamento"),
    },
    "subtotal": {
        "en": ("Subtotal", "Sub-total", "Sub Total", "Net Amount", "Net Total", "Total Net",
               "Total excl VAT", "Total excluding VAT", "Total before tax", "Amount excl VAT",
               "Total excl tax", "Net", "Taxable amount", "Total (excl. VAT)"),
        "de": ("Zwischensumme", "Nettobetrag", "Summe netto", "Netto", "Gesamt netto", "Nettosumme",
               "Warenwert", "Summe Netto", "Rechnungsbetrag netto", "Gesamtbetrag netto",
               "Nettogesamtbetrag", "Summe"),
        "fr": ("Total HT", "Sous-total", "Montant HT", "Total hors taxes", "Sous total HT",
               "Montant hors taxes", "Net HT", "Base HT"),
        "nl": ("Subtotaal", "Totaal excl BTW", "Totaal exclusief BTW", "Netto bedrag", "Bedrag excl BTW",
               "Totaal excl", "Netto"),
        "es": ("Base imponible", "Subtotal", "Importe neto", "Total sin IVA", "Neto", "Suma"),
        "it": ("Imponibile", "Totale imponibile", "Subtotale", "Totale netto", "Netto", "Totale merce"),
    },
    "total_tax": {
        "en": ("VAT", "Tax", "Sales Tax", "Total VAT", "Total Tax", "VAT Amount", "Tax Amount", "GST",
               "Value Added Tax", "Plus VAT"),
        "de": ("MwSt", "Mehrwertsteuer", "USt", "Umsatzsteuer", "zzgl MwSt", "zzgl USt", "Summe MwSt",
               "MwSt-Betrag", "Steuer", "zuzüglich MwSt", "Gesamt MwSt", "Summe USt", "UST-Betrag"),
        "fr": ("TVA", "Montant TVA", "Total TVA", "Taxe", "Montant de la TVA"),
        "nl": ("BTW", "BTW bedrag", "Totaal BTW", "Btw-bedrag", "Omzetbelasting"),
        "es": ("IVA", "Cuota IVA", "Total IVA", "Importe IVA", "Impuestos", "Cuota"),
        "it": ("IVA", "Imposta", "Totale IVA", "Importo IVA", "Imposte"),
    },
    "invoice_total": {
        "en": ("Total", "Invoice Total", "Grand Total", "Total Amount", "Total incl VAT",
               "Total including VAT", "Total (incl. VAT)", "Total Due", "Gross Amount", "Gross Total",
               "Total Credit", "Credit Total", "Amount (incl. VAT)"),
        "de": ("Gesamtbetrag", "Rechnungsbetrag", "Gesamtsumme", "Endbetrag", "Gesamt", "Summe brutto",
               "Bruttobetrag", "Gesamt brutto", "Brutto", "Rechnungssumme", "Gesamtbetrag brutto",
               "Gutschriftsbetrag", "Total"),
        "fr": ("Total TTC", "Montant TTC", "Total", "Montant total", "Total toutes taxes comprises",
               "Montant total TTC", "Total de l'avoir", "Net TTC"),
        "nl": ("Totaal", "Totaal incl BTW", "Totaal inclusief BTW", "Totaalbedrag", "Factuurbedrag",
               "Totaal bedrag", "Bedrag incl BTW", "Eindtotaal"),
        "es": ("Total", "Total factura", "Importe total", "Total a pagar", "Total con IVA",
               "Total (IVA incluido)", "Total IVA incluido"),
        "it": ("Totale", "Totale fattura", "Totale documento", "Importo totale", "Totale complessivo",
               "Totale IVA inclusa"),
    },
    "amount_due": {
        "en": ("Amount Due", "Balance Due", "Amount Payable", "Total Payable", "Please Pay",
               "Balance", "Amount to pay", "Outstanding amount", "Net amount due", "Payable amount",
               "Amount to be paid"),
        "de": ("Zu zahlen", "Zahlbetrag", "Offener Betrag", "Zahlbarer Betrag", "Noch zu zahlen",
               "Restbetrag", "Fälliger Betrag", "Zu zahlender Betrag", "Bitte überweisen"),
        "fr": ("Net à payer", "Reste à payer", "Montant dû", "Solde dû", "Montant à payer", "À payer",
               "Solde à payer"),
        "nl": ("Te betalen", "Openstaand bedrag", "Totaal te betalen", "Verschuldigd bedrag",
               "Nog te betalen", "Te voldoen"),
        "es": ("Importe a pagar", "Total a pagar", "Saldo pendiente", "A pagar", "Importe pendiente",
               "Líquido a pagar", "Pendiente de pago"),
        "it": ("Totale da pagare", "Netto a pagare", "Importo dovuto", "Saldo dovuto", "Da pagare",
               "Importo da pagare", "Residuo da pagare"),
    },
    "total_discount": {
        "en": ("Discount", "Total Discount", "Less Discount", "Rebate", "Discount total"),
        "de": ("Rabatt", "Nachlass", "Skonto", "Abzüglich Rabatt", "Gesamtrabatt", "abzgl Rabatt"),
        "fr": ("Remise", "Escompte", "Rabais", "Total remise", "Remise globale"),
        "nl": ("Korting", "Totale korting", "Kortingsbedrag"),
        "es": ("Descuento", "Total descuento", "Dto", "Descuentos"),
        "it": ("Sconto", "Totale sconto", "Sconti", "Abbuono"),
    },
    "previous_unpaid_balance": {
        "en": ("Previous Balance", "Previous Unpaid Balance", "Balance brought forward", "Prior balance",
               "Outstanding previous balance", "Unpaid balance"),
        "de": ("Vorheriger Saldo", "Offener Vorsaldo", "Saldovortrag", "Alter Saldo", "Offener Saldo"),
        "fr": ("Solde précédent", "Solde antérieur", "Ancien solde", "Solde impayé"),
        "nl": ("Vorig saldo", "Openstaand saldo", "Oud saldo"),
        "es": ("Saldo anterior", "Saldo pendiente anterior"),
        "it": ("Saldo precedente", "Saldo insoluto"),
    },
    # Payments already made: they explain why the amount due is lower, and end tables.
    "prepayment": {
        "en": ("Less prepayment", "Prepayment", "Paid", "Amount paid", "Less payment received",
               "Payment received", "Deposit paid", "Advance payment", "Less deposit", "Deposit"),
        "de": ("Anzahlung", "Abzüglich Anzahlung", "Bereits bezahlt", "Vorauszahlung",
               "Abschlagszahlung", "Geleistete Anzahlung", "abzgl Anzahlung", "Erhaltene Anzahlung"),
        "fr": ("Acompte", "Acompte versé", "Déjà payé", "Avance", "Acompte reçu", "Déjà réglé"),
        "nl": ("Vooruitbetaling", "Aanbetaling", "Reeds betaald", "Voorschot", "Betaald"),
        "es": ("Anticipo", "Pago a cuenta", "Ya pagado", "Entrega a cuenta", "Pagado"),
        "it": ("Acconto", "Anticipo", "Già pagato", "Acconto versato", "Pagato"),
    },
    "account_holder": {
        "en": ("Account holder", "Account name", "Beneficiary", "Payee"),
        "de": ("Kontoinhaber", "Empfänger", "Zahlungsempfänger", "Begünstigter"),
        "fr": ("Titulaire", "Titulaire du compte", "Bénéficiaire"),
        "nl": ("T.n.v.", "Ten name van", "Rekeninghouder", "Begunstigde"),
        "es": ("Titular", "Titular de la cuenta", "Beneficiario"),
        "it": ("Intestatario", "Beneficiario", "Intestato a", "Intestatario conto"),
    },
    "ship_to": {
        "en": ("Ship To", "Deliver To", "Delivery Address", "Shipping Address", "Ship-to"),
        "de": ("Lieferadresse", "Lieferanschrift", "Lieferung an", "Versandadresse"),
        "fr": ("Livré à", "Adresse de livraison", "Livrer à", "Lieu de livraison"),
        "nl": ("Afleveradres", "Leveradres", "Leveren aan", "Verzendadres"),
        "es": ("Dirección de entrega", "Enviar a", "Entregar a", "Dirección de envío"),
        "it": ("Destinazione merce", "Luogo di consegna", "Indirizzo di consegna", "Consegna a"),
    },
    "vendor_tax_id": {
        "en": ("VAT ID", "VAT No", "VAT Number", "VAT Reg No", "VAT Registration Number", "Tax ID",
               "Tax Number", "VAT Reg", "Our VAT No", "EIN", "TIN", "VAT Registration No"),
        "de": ("USt-IdNr", "USt-ID", "UStIdNr", "USt IdNr", "Umsatzsteuer-ID", "Steuernummer",
               "St-Nr", "USt-Id-Nr", "Ust-Identifikationsnummer", "MwSt-Nr", "UID", "UID-Nr"),
        "fr": ("N° TVA", "TVA intracommunautaire", "N° TVA intracom", "Numéro de TVA", "N° de TVA",
               "TVA intracom", "SIRET", "N° TVA intracommunautaire", "Identifiant TVA"),
        "nl": ("BTW-nummer", "BTW nr", "BTW-nr", "Btw-id", "BTW-identificatienummer", "BTW nummer",
               "Btw nummer", "Ondernemingsnummer", "Ondernemingsnr", "KBO"),
        "es": ("NIF", "CIF", "NIF/CIF", "N.I.F", "C.I.F", "Número de IVA", "NIF-IVA", "VAT"),
        "it": ("Partita IVA", "P. IVA", "P.IVA", "PIVA", "Codice fiscale", "P IVA", "Part IVA"),
    },
    "customer_tax_id": {
        "en": ("Customer VAT ID", "Customer VAT No", "Customer VAT Number", "Your VAT ID", "Your VAT No",
               "Client VAT", "Buyer VAT", "Customer Tax ID", "Your VAT Number"),
        "de": ("Ihre USt-IdNr", "Kunden-USt-IdNr", "USt-IdNr des Kunden", "Ihre USt-ID",
               "Ihre UStIdNr", "USt-IdNr Kunde", "USt-IdNr. Kunde"),
        "fr": ("TVA client", "N° TVA client", "Votre N° TVA", "Votre numéro de TVA",
               "TVA intracom client"),
        "nl": ("BTW-nummer klant", "Uw BTW-nummer", "Klant BTW", "Uw btw nr", "BTW nr klant",
               "Uw BTW nr"),
        "es": ("NIF cliente", "CIF cliente", "NIF del cliente", "Su NIF", "Su CIF"),
        "it": ("P. IVA cliente", "Partita IVA cliente", "Vostra P. IVA", "P.IVA cliente",
               "Vostra partita IVA"),
    },
    "iban": {lang: ("IBAN",) for lang in LANGUAGES},
    "swift": {
        "en": ("BIC", "SWIFT", "SWIFT/BIC", "BIC/SWIFT", "SWIFT code", "BIC code"),
        "de": ("BIC", "SWIFT-BIC", "SWIFT"),
        "fr": ("BIC", "Code BIC", "SWIFT"),
        "nl": ("BIC", "SWIFT"),
        "es": ("BIC", "SWIFT", "Código BIC"),
        "it": ("BIC", "SWIFT", "Codice BIC"),
    },
    "bank_account_number": {
        "en": ("Account Number", "Bank Account", "Acct No", "Bank account no", "A/C No"),
        "de": ("Kontonummer", "Konto-Nr", "Konto"),
        "fr": ("Numéro de compte", "N° de compte", "Compte"),
        "nl": ("Rekeningnummer", "Rekening", "Bankrekening"),
        "es": ("Número de cuenta", "Cuenta", "Nº de cuenta"),
        "it": ("Numero di conto", "Conto", "Conto corrente", "C/C"),
    },
    "customer_block": {
        "en": ("Bill To", "Billed To", "Invoice To", "Sold To", "Customer", "Client", "To",
               "Invoice Address", "Billing Address", "Recipient", "Buyer", "Bill-to"),
        "de": ("Rechnungsadresse", "Rechnungsempfänger", "Kunde", "An", "Empfänger", "Rechnung an",
               "Leistungsempfänger", "Auftraggeber"),
        "fr": ("Facturé à", "Facturer à", "Client", "Adresse de facturation", "Destinataire",
               "À l'attention de", "Facture à"),
        "nl": ("Factuuradres", "Klant", "Gefactureerd aan", "Aan", "Afnemer", "Factuur aan"),
        "es": ("Facturar a", "Cliente", "Facturado a", "Dirección de facturación", "Destinatario"),
        "it": ("Fatturare a", "Cliente", "Destinatario", "Spett", "Spettabile", "Intestatario",
               "Fatturato a"),
    },
    "vendor_block": {
        "en": ("From", "Seller", "Supplier", "Vendor", "Bill From", "Sold By"),
        "de": ("Von", "Absender", "Lieferant", "Verkäufer", "Rechnungssteller"),
        "fr": ("De", "Fournisseur", "Vendeur", "Émetteur"),
        "nl": ("Van", "Leverancier", "Verkoper"),
        "es": ("De", "Proveedor", "Vendedor", "Emisor"),
        "it": ("Da", "Fornitore", "Venditore", "Cedente", "Mittente"),
    },
    "service_period": {
        "en": ("Service Period", "Billing Period", "Period", "Service Date", "Performance period"),
        "de": ("Leistungszeitraum", "Abrechnungszeitraum", "Zeitraum", "Leistungsdatum"),
        "fr": ("Période de prestation", "Période", "Période de facturation"),
        "nl": ("Periode", "Leveringsperiode", "Factuurperiode", "Prestatieperiode"),
        "es": ("Periodo de servicio", "Periodo", "Periodo de facturación"),
        "it": ("Periodo di riferimento", "Periodo", "Periodo di fatturazione"),
    },
    "carried_forward": {
        "en": ("Carried forward", "Brought forward", "C/F", "B/F", "c/fwd", "b/fwd", "Carried over", "Subtotal carried forward",
               "Continued", "Balance carried forward"),
        "de": ("Übertrag", "Zwischensumme Übertrag", "Übertrag von Seite", "Seitenübertrag"),
        "fr": ("Report", "À reporter", "Reporté", "Report de la page"),
        "nl": ("Transport", "Over te brengen", "Overgebracht"),
        "es": ("Suma y sigue", "Suma anterior", "Transporte"),
        "it": ("Riporto", "A riportare", "Riportato"),
    },
    "ignore": {
        "en": ("Delivery Date", "Order Date", "Ship Date", "Shipping Date", "Page", "Phone", "Tel",
               "Fax", "Email", "Website", "Contact", "Delivery Note", "Date of supply", "Printed",
               "Payment method", "Method of payment"),
        "de": ("Lieferdatum", "Bestelldatum", "Auftragsdatum", "Seite", "Telefon", "Tel", "Fax",
               "E-Mail", "Lieferschein", "Lieferscheinnummer", "Handelsregister", "Geschäftsführer",
               "Amtsgericht", "Registergericht", "Zahlungsart", "Zahlungsweise"),
        "fr": ("Date de livraison", "Date de commande", "Page", "Téléphone", "Tél", "Fax", "Courriel",
               "Bon de livraison", "RCS", "Capital", "Modalités de paiement", "Mode de paiement",
               "Mode de règlement"),
        "nl": ("Leverdatum", "Besteldatum", "Orderdatum", "Pagina", "Telefoon", "Tel", "Fax", "E-mail", "KvK",
               "KvK-nummer", "Pakbon"),
        "es": ("Fecha de entrega", "Fecha de pedido", "Página", "Teléfono", "Tel", "Fax", "Correo",
               "Albarán", "Forma de pago", "Medio de pago"),
        "it": ("Data di consegna", "Data ordine", "Pagina", "Telefono", "Tel", "Fax", "Email", "DDT",
               "REA", "Capitale sociale", "Modalità di pagamento", "Metodo di pagamento"),
    },
}

# Table column headers: column -> labels (all languages together).
_COLUMNS: dict[str, tuple[str, ...]] = {
    "position": ("Pos", "Pos.", "Position", "#", "No", "Nr", "N°", "Item", "Line", "Lfd Nr", "Ln",
                 "Rif", "Riga", "Regel", "Línea"),
    "product_code": ("Item No", "Item Code", "SKU", "Product Code", "Code", "Art-Nr", "Art.-Nr",
                     "Artikelnummer", "Artikel-Nr", "Artikelnr", "Référence", "Réf", "Ref",
                     "Artikelcode", "Código", "Codigo", "Referencia", "Codice", "Cod", "Cod. art",
                     "Part No", "Product No", "Article", "Art.nr", "Artikel nr"),
    "description": ("Description", "Item Description", "Details", "Service", "Services", "Product",
                    "Products", "Item", "Items", "Bezeichnung", "Beschreibung", "Artikel", "Leistung",
                    "Artikelbezeichnung", "Désignation", "Libellé", "Description", "Prestation",
                    "Omschrijving", "Beschrijving", "Product", "Artikel", "Descripción", "Concepto",
                    "Producto", "Artículo", "Descrizione", "Articolo", "Prodotto", "Servizio",
                    "Particulars", "Activity", "Work", "Dienst", "Dienstleistung"),
    "quantity": ("Qty", "Quantity", "Qté", "Qte", "Quantité", "Menge", "Anzahl", "Anz", "Stück",
                 "Aantal", "Cantidad", "Cant", "Uds", "Unidades", "Quantità", "Q.tà", "Qta", "Units",
                 "Hours", "Hrs", "Stunden", "Std", "Heures", "Uren", "Horas", "Ore", "Menge/Einheit",
                 "Aant", "Aantal stuks", "Qty.", "Nombre", "Nb"),
    "unit": ("Unit", "UoM", "Einheit", "ME", "Unité", "Eenheid", "Unidad", "Unità", "U.M.", "UM"),
    "unit_price": ("Unit Price", "Price", "Rate", "Unit Cost", "Price per unit", "Einzelpreis",
                   "E-Preis", "Preis", "EP", "Stückpreis", "Preis/Einheit", "Prix unitaire", "PU",
                   "Prix", "P.U.", "Prix U HT", "PU HT", "Prijs", "Stukprijs", "Eenheidsprijs",
                   "Prijs per eenheid", "Precio", "Precio unitario", "Precio unit", "Prezzo",
                   "Prezzo unitario", "Prezzo unit", "Tarif", "Tarief", "Stundensatz", "Hourly Rate",
                   "Unit Price (net)", "Einzelpreis netto", "Cost", "Unit cost", "P. unitario",
                   "P. unit", "Prix unit", "Prix unit HT", "P.U. HT", "Prezzo unit", "Pr. unit",
                   "Precio ud", "Precio/ud", "Prijs/st", "Prijs per stuk", "Einzelpr", "EP netto"),
    "amount": ("Amount", "Total", "Line Total", "Net Amount", "Sum", "Betrag", "Gesamt",
               "Gesamtpreis", "Summe", "Gesamt netto", "Nettobetrag", "Montant", "Montant HT", "Total HT",
               "Bedrag", "Totaal", "Importe", "Total", "Importo", "Totale", "Ext Price", "Extended",
               "Net", "Netto", "Subtotal", "Line Amount", "Amount (net)", "Prix total", "Valor",
               "Gesamtbetrag", "GP", "G-Preis", "Ges.-Preis", "Ges-Preis", "Gesamtpr"),
    "tax_rate": ("VAT", "VAT %", "VAT Rate", "Tax", "Tax %", "Tax Rate", "MwSt", "MwSt %", "MwSt.-Satz",
                 "USt", "USt %", "Steuersatz", "TVA", "TVA %", "Taux TVA", "BTW", "BTW %", "BTW-tarief",
                 "IVA", "IVA %", "% IVA", "Aliquota", "Aliq. IVA", "Aliquota IVA", "Tipo IVA", "Tarief"),
    "date": ("Date", "Datum", "Fecha", "Data", "Leistungsdatum", "Service Date"),
}

# Words that title a document as an invoice or credit note (never a vendor name).
DOCUMENT_TITLES: dict[str, tuple[str, ...]] = {
    "en": ("Invoice", "Tax Invoice", "Credit Note", "Credit Memo", "VAT Invoice", "Commercial Invoice",
           "Bill", "Statement"),
    "de": ("Rechnung", "Gutschrift", "Rechnungskorrektur", "Schlussrechnung", "Teilrechnung",
           "Stornorechnung"),
    "fr": ("Facture", "Avoir", "Facture d'avoir", "Note de crédit"),
    "nl": ("Factuur", "Creditnota", "Creditfactuur"),
    "es": ("Factura", "Nota de crédito", "Factura rectificativa", "Abono"),
    "it": ("Fattura", "Nota di credito", "Fattura elettronica"),
}

CREDIT_NOTE_TITLES = ("credit note", "credit memo", "gutschrift", "stornorechnung", "avoir",
                      "facture d avoir", "note de credit", "creditnota", "creditfactuur",
                      "nota de credito", "factura rectificativa", "abono", "nota di credito")


@dataclass(frozen=True, slots=True)
class Label:
    field: str
    language: str | None
    tokens: tuple[str, ...]


def _index(entries: Iterable[Label]) -> dict[str, tuple[Label, ...]]:
    """Labels grouped by first token, longest first, for a prefix match per word."""
    by_first: dict[str, list[Label]] = {}
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for label in entries:
        if not label.tokens or (label.field, label.tokens) in seen:
            continue
        seen.add((label.field, label.tokens))
        by_first.setdefault(label.tokens[0], []).append(label)
    return {
        first: tuple(sorted(labels, key=lambda lb: -len(lb.tokens)))
        for first, labels in by_first.items()
    }


FIELD_LABELS: dict[str, tuple[Label, ...]] = _index(
    Label(field, language, tokens(text))
    for field, per_language in _VOCABULARY.items()
    for language, texts in per_language.items()
    for text in texts
)

COLUMN_LABELS: dict[str, tuple[Label, ...]] = _index(
    Label(column, None, tokens(text)) for column, texts in _COLUMNS.items() for text in texts
)

TITLE_TOKENS: frozenset[tuple[str, ...]] = frozenset(
    tokens(text) for texts in DOCUMENT_TITLES.values() for text in texts
)

# For language detection: folded label token tuples -> languages using them.
LANGUAGE_MARKERS: dict[tuple[str, ...], frozenset[str]] = {}
for _field, _per_language in _VOCABULARY.items():
    for _language, _texts in _per_language.items():
        for _text in _texts:
            _key = tokens(_text)
            if len(_key) > 0 and len("".join(_key)) >= 4:
                LANGUAGE_MARKERS[_key] = LANGUAGE_MARKERS.get(_key, frozenset()) | {_language}
for _language, _texts in DOCUMENT_TITLES.items():
    for _text in _texts:
        _key = tokens(_text)
        LANGUAGE_MARKERS[_key] = LANGUAGE_MARKERS.get(_key, frozenset()) | {_language}


def match_label(
    words: tuple[str, ...], start: int, index: dict[str, tuple[Label, ...]]
) -> tuple[Label, int] | None:
    """The longest label whose tokens equal `words[start:start+n]`, with n."""
    if start >= len(words):
        return None
    for label in index.get(words[start], ()):
        n = len(label.tokens)
        if tuple(words[start : start + n]) == label.tokens:
            return label, n
    return None
