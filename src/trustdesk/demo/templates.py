"""The demo's response templates: the replies a marketplace's support teams use every day, in English
and Spanish (Indonesian cases fall back to English), for every team or for the specialist team that
sends them, with the actions they imply. Created through the replies service, so each text passes the
same checks as one written in the console; a template that exists (by key) is left as it is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.assist import macros
from trustdesk.assist.models import ResponseTemplate
from trustdesk.directory.models import Team


@dataclass(frozen=True)
class TemplateSpec:
    key: str
    name: str
    description: str
    texts: dict[str, str]
    team: str | None = None  # a team key; None: every team
    status: str | None = None
    tags: tuple[str, ...] = ()
    priority: str | None = None


TEMPLATES: tuple[TemplateSpec, ...] = (
    TemplateSpec(
        "greeting-order-status", "Greeting and order status", "First reply to “where is my order?”",
        {"en": "Hi {{ customer_first_name }},\n\nThanks for reaching out about {% if order_id %}order {{ order_id }}"
               "{% else %}your order{% endif %}. I have checked it: it is on its way, and you can follow every step "
               "under Orders > Track in the app.\n\nIf it has not arrived by the delivery date shown there, reply "
               "here and I will look into it with the carrier.\n\nBest regards,\n{{ agent_first_name }}",
         "es": "Hola, {{ customer_first_name }}:\n\nGracias por escribirnos sobre {% if order_id %}el pedido "
               "{{ order_id }}{% else %}tu pedido{% endif %}. Lo he revisado: está en camino y puedes seguir cada "
               "paso en Pedidos > Seguimiento en la app.\n\nSi no llega en la fecha de entrega que aparece allí, "
               "responde aquí y lo revisaré con la empresa de transporte.\n\nUn saludo,\n{{ agent_first_name }}"},
        tags=("order-status",)),
    TemplateSpec(
        "need-more-details", "Ask for the order number", "When the case lacks what we need to act",
        {"en": "Hi {{ customer_first_name }},\n\nI would like to help with this. Could you send me the order "
               "number (it starts with BR-) and, if you can, a screenshot of the problem? As soon as I have them "
               "I will carry on.\n\nThank you,\n{{ agent_first_name }}",
         "es": "Hola, {{ customer_first_name }}:\n\nMe gustaría ayudarte con esto. ¿Puedes enviarme el número de "
               "pedido (empieza por BR-) y, si es posible, una captura de pantalla del problema? En cuanto los "
               "tenga, sigo con ello.\n\nGracias,\n{{ agent_first_name }}"},
        status="pending", tags=("awaiting-info",)),
    TemplateSpec(
        "looking-into-it", "We are looking into it", "Holding reply that promises the next update",
        {"en": "Hi {{ customer_first_name }},\n\nThank you for your patience. I am looking into case "
               "{{ case_reference }} and will update you by {{ sla_due }} at the latest.\n\n{{ agent_name }}",
         "es": "Hola, {{ customer_first_name }}:\n\nGracias por tu paciencia. Estoy revisando el caso "
               "{{ case_reference }} y te daré una respuesta, como muy tarde, el {{ sla_due }}.\n\n{{ agent_name }}"}),
    TemplateSpec(
        "password-reset-steps", "Password reset steps", "Customer cannot sign in",
        {"en": "Hi {{ customer_first_name }},\n\nTo set a new password:\n\n1. Open the app and tap “Sign in”.\n"
               "2. Tap “Forgot password?” and enter the e-mail address of your account.\n3. Open the e-mail we "
               "send you (check the spam folder too) and follow the link within 30 minutes.\n4. Choose a new "
               "password you have not used here before.\n\nIf the e-mail does not arrive within 10 minutes, reply "
               "here and I will check your account.\n\n{{ agent_first_name }}",
         "es": "Hola, {{ customer_first_name }}:\n\nPara crear una contraseña nueva:\n\n1. Abre la app y toca "
               "«Iniciar sesión».\n2. Toca «¿Has olvidado tu contraseña?» e introduce el correo de tu cuenta.\n"
               "3. Abre el correo que te enviaremos (mira también en spam) y sigue el enlace en los próximos 30 "
               "minutos.\n4. Elige una contraseña que no hayas usado antes aquí.\n\nSi el correo no llega en 10 "
               "minutos, responde aquí y revisaré tu cuenta.\n\n{{ agent_first_name }}"},
        status="pending", tags=("account-access",)),
    TemplateSpec(
        "escalated-to-tier-2", "Escalated to our specialists", "Tell the customer a specialist team takes over",
        {"en": "Hi {{ customer_first_name }},\n\nThank you for the details. Your case {{ case_reference }} needs "
               "one of our specialists, so I have passed it to them with everything you told me: you will not "
               "need to repeat anything. They will reply by {{ sla_due }}.\n\n{{ agent_name }}",
         "es": "Hola, {{ customer_first_name }}:\n\nGracias por los detalles. Tu caso {{ case_reference }} "
               "necesita a uno de nuestros especialistas, así que se lo he pasado con todo lo que me has contado: "
               "no tendrás que repetir nada. Te responderán, como muy tarde, el {{ sla_due }}.\n\n{{ agent_name }}"},
        status="open", tags=("escalated-t2",)),
    TemplateSpec(
        "closing-solved", "Closing: solved", "Last reply when the question is answered",
        {"en": "Hi {{ customer_first_name }},\n\nI am glad we could sort this out. I am marking case "
               "{{ case_reference }} as solved; if anything is still not right, just reply within 7 days and it "
               "reopens with me.\n\nHave a good day,\n{{ agent_first_name }}",
         "es": "Hola, {{ customer_first_name }}:\n\nMe alegro de que lo hayamos resuelto. Marco el caso "
               "{{ case_reference }} como resuelto; si algo sigue sin estar bien, responde en los próximos 7 días "
               "y se volverá a abrir conmigo.\n\nQue tengas un buen día,\n{{ agent_first_name }}"},
        status="solved"),
    TemplateSpec(
        "refund-timeline", "How long a refund takes", "Refund requested or approved, not yet received",
        {"en": "Hi {{ customer_first_name }},\n\nYour refund{% if order_id %} for order {{ order_id }}{% endif %} "
               "goes back to the payment method you used. Banks take 5 to 10 business days to show it; cards "
               "sometimes show it as a pending credit first.\n\nIf it is not there after 10 business days, reply "
               "here with a bank statement and I will trace it.\n\n{{ agent_first_name }}",
         "es": "Hola, {{ customer_first_name }}:\n\nEl reembolso{% if order_id %} del pedido {{ order_id }}"
               "{% endif %} vuelve al método de pago que usaste. Los bancos tardan entre 5 y 10 días hábiles en "
               "mostrarlo; algunas tarjetas lo muestran antes como abono pendiente.\n\nSi no lo ves pasados 10 días "
               "hábiles, responde aquí con un extracto bancario y lo rastrearé.\n\n{{ agent_first_name }}"},
        status="pending", tags=("refund",)),
    TemplateSpec(
        "refund-issued", "Refund issued", "Confirm a refund we have just sent",
        {"en": "Hi {{ customer_first_name }},\n\nGood news: we have issued your refund"
               "{% if order_id %} for order {{ order_id }}{% endif %}. It is on its way to your original payment "
               "method and usually shows within 5 to 10 business days.\n\nCase {{ case_reference }} is now "
               "solved; reply within 7 days if anything is missing.\n\n{{ agent_name }}\n{{ team_name }}",
         "es": "Hola, {{ customer_first_name }}:\n\nBuenas noticias: hemos emitido tu reembolso"
               "{% if order_id %} del pedido {{ order_id }}{% endif %}. Va de camino a tu método de pago original "
               "y suele verse en un plazo de 5 a 10 días hábiles.\n\nEl caso {{ case_reference }} queda resuelto; "
               "responde en los próximos 7 días si falta algo.\n\n{{ agent_name }}\n{{ team_name }}"},
        team="t2-payments", status="solved", tags=("refund", "refund-issued")),
    TemplateSpec(
        "payment-failed", "Payment failed", "Card declined or payment not taken",
        {"en": "Hi {{ customer_first_name }},\n\nThe payment was not taken, so you have not been charged. This "
               "usually means the bank declined it. Please check that the card details and billing address are "
               "current, or try another payment method. If your bank confirms the card is fine, reply here and I "
               "will check the attempt on our side.\n\n{{ agent_first_name }}",
         "es": "Hola, {{ customer_first_name }}:\n\nEl pago no se ha cobrado, así que no se te ha cargado nada. "
               "Normalmente significa que el banco lo ha rechazado. Comprueba que los datos de la tarjeta y la "
               "dirección de facturación están al día, o prueba con otro método de pago. Si tu banco confirma que "
               "la tarjeta está bien, responde aquí y revisaré el intento por nuestra parte.\n\n"
               "{{ agent_first_name }}"},
        team="t2-payments", status="pending", tags=("payment-failed",)),
    TemplateSpec(
        "carrier-delay", "Delayed with the carrier", "We asked the carrier; waiting on them",
        {"en": "Hi {{ customer_first_name }},\n\n{% if order_id %}Order {{ order_id }}{% else %}Your order{% endif %}"
               " is delayed with the carrier. I have opened an inquiry with them and will tell you what they say "
               "by {{ sla_due }}. If it is lost, we will send a replacement or refund you in full.\n\n"
               "{{ agent_name }}\n{{ team_name }}",
         "es": "Hola, {{ customer_first_name }}:\n\n{% if order_id %}El pedido {{ order_id }}{% else %}Tu pedido"
               "{% endif %} lleva retraso con la empresa de transporte. He abierto una consulta con ellos y te "
               "contaré lo que digan, como muy tarde, el {{ sla_due }}. Si se ha perdido, te enviaremos otro o te "
               "devolveremos el importe completo.\n\n{{ agent_name }}\n{{ team_name }}"},
        team="t2-orders", status="on_hold", tags=("carrier-delay",), priority="high"),
    TemplateSpec(
        "order-cancelled", "Order cancelled", "Confirm a cancellation",
        {"en": "Hi {{ customer_first_name }},\n\n{% if order_id %}Order {{ order_id }}{% else %}Your order"
               "{% endif %} is cancelled. If you had paid, the refund goes back to your payment method within 5 "
               "to 10 business days.\n\n{{ agent_first_name }}",
         "es": "Hola, {{ customer_first_name }}:\n\n{% if order_id %}El pedido {{ order_id }}{% else %}Tu pedido"
               "{% endif %} está cancelado. Si ya lo habías pagado, el reembolso vuelve a tu método de pago en un "
               "plazo de 5 a 10 días hábiles.\n\n{{ agent_first_name }}"},
        team="t2-orders", status="solved", tags=("order-cancelled",)),
    TemplateSpec(
        "seller-listing-review", "Listing under review (sellers)", "A seller asks why a listing is not live",
        {"en": "Hi {{ customer_first_name }},\n\nYour listing is being reviewed against our listing rules; most "
               "reviews finish within 24 hours. You can see its status under Shop > Listings. If it is declined, "
               "the notice tells you what to change, and you can appeal from there.\n\n{{ agent_name }}\n"
               "{{ team_name }}",
         "es": "Hola, {{ customer_first_name }}:\n\nTu anuncio se está revisando según nuestras normas de "
               "publicación; la mayoría de las revisiones terminan en 24 horas. Puedes ver su estado en Tienda > "
               "Anuncios. Si se rechaza, el aviso te dirá qué cambiar y podrás recurrir desde allí.\n\n"
               "{{ agent_name }}\n{{ team_name }}"},
        team="t2-sellers", status="pending", tags=("listing-review",)),
)


def ensure_templates(session: Session, *, now: datetime) -> int:
    """Create the demo templates that are missing (a template whose team the directory lacks is left
    out); returns how many were created."""
    since = now - timedelta(days=100)
    existing = set(session.scalars(select(ResponseTemplate.key)))
    teams = {key: team_id for key, team_id in session.execute(select(Team.key, Team.id))}
    created = 0
    for spec in TEMPLATES:
        if spec.key in existing or (spec.team is not None and spec.team not in teams):
            continue
        macros.create_template(session, None, macros.TemplateDraft(
            key=spec.key, name=spec.name, description=spec.description, default_locale="en",
            team_id=teams[spec.team] if spec.team else None, bodies=dict(spec.texts),
            actions=macros.Actions(status=spec.status, add_tags=list(spec.tags), priority=spec.priority),
        ), now=since)
        created += 1
    return created
