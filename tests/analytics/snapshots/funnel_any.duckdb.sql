WITH "t16" AS (
  SELECT
    "t11"."id_type",
    "t11"."id_value",
    MIN("t11"."profile_id") AS "profile_id"
  FROM (
    SELECT
      *
    FROM "profile_identifiers" AS "t5"
    WHERE
      "t5"."status" = 'linked'
  ) AS "t11"
  GROUP BY
    1,
    2
), "t41" AS (
  SELECT
    *
  FROM (
    SELECT
      *
    FROM (
      SELECT
        COALESCE("t31"."profile_id", "t26"."found") AS "person",
        "t31"."ts",
        "t31"."m0",
        "t31"."m1",
        "t31"."m2",
        "t31"."channel" AS "d_channel"
      FROM (
        SELECT
          "t20"."delivery_id",
          "t20"."channel",
          "t20"."campaign_id",
          "t20"."journey_id",
          "t20"."step_id",
          "t20"."profile_id",
          "t20"."recipient",
          "t20"."template",
          "t20"."status",
          "t20"."error",
          "t20"."provider_message_id",
          "t20"."queued_at",
          "t20"."sent_at",
          "t20"."outbox_id",
          "t20"."at",
          "t20"."kind",
          "t20"."origin",
          "t20"."template_version",
          "t20"."attempt",
          "t20"."reason",
          "t20"."ts",
          "t20"."cid",
          "t20"."cname",
          COALESCE("t20"."cname", "t20"."campaign_id") AS "d_campaign_",
          FALSE AS "m0",
          FALSE AS "m1",
          "t20"."status" = 'clicked' AS "m2"
        FROM (
          SELECT
            "t15"."delivery_id",
            "t15"."channel",
            "t15"."campaign_id",
            "t15"."journey_id",
            "t15"."step_id",
            "t15"."profile_id",
            "t15"."recipient",
            "t15"."template",
            "t15"."status",
            "t15"."error",
            "t15"."provider_message_id",
            "t15"."queued_at",
            "t15"."sent_at",
            "t15"."outbox_id",
            "t15"."at",
            "t15"."kind",
            "t15"."origin",
            "t15"."template_version",
            "t15"."attempt",
            "t15"."reason",
            "t15"."ts",
            "t14"."cid",
            "t14"."cname"
          FROM (
            SELECT
              "t3"."delivery_id",
              "t3"."channel",
              "t3"."campaign_id",
              "t3"."journey_id",
              "t3"."step_id",
              "t3"."profile_id",
              "t3"."recipient",
              "t3"."template",
              "t3"."status",
              "t3"."error",
              "t3"."provider_message_id",
              "t3"."queued_at",
              "t3"."sent_at",
              "t3"."outbox_id",
              "t3"."at",
              "t3"."kind",
              "t3"."origin",
              "t3"."template_version",
              "t3"."attempt",
              "t3"."reason",
              COALESCE("t3"."at", "t3"."sent_at", "t3"."queued_at") AS "ts"
            FROM "deliveries" AS "t3"
            WHERE
              COALESCE("t3"."at", "t3"."sent_at", "t3"."queued_at") >= MAKE_TIMESTAMP(2026, 3, 2, 0, 0, 0.0)
              AND COALESCE("t3"."at", "t3"."sent_at", "t3"."queued_at") < MAKE_TIMESTAMP(2026, 4, 8, 0, 0, 0.0)
          ) AS "t15"
          LEFT OUTER JOIN (
            SELECT
              "t4"."campaign_id" AS "cid",
              MIN("t4"."name") AS "cname"
            FROM "campaigns" AS "t4"
            GROUP BY
              1
          ) AS "t14"
            ON "t15"."campaign_id" = "t14"."cid"
        ) AS "t20"
        WHERE
          FALSE OR FALSE OR (
            "t20"."status" = 'clicked'
          )
      ) AS "t31"
      LEFT OUTER JOIN (
        SELECT
          "t18"."id_value",
          MIN("t18"."profile_id") AS "found"
        FROM "t16" AS "t18"
        GROUP BY
          1
      ) AS "t26"
        ON TRIM("t31"."recipient", ' 	
') = "t26"."id_value"
    ) AS "t35"
    WHERE
      "t35"."person" IS NOT NULL AND "t35"."ts" IS NOT NULL
  ) AS "t37"
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      *
    FROM (
      SELECT
        *
      FROM (
        SELECT
          COALESCE(
            "t27"."u_profile",
            "t28"."a_profile",
            'user_id:' || "t25"."user_id",
            'anonymous_id:' || "t25"."anonymous_id"
          ) AS "person",
          "t25"."ts",
          "t25"."m0",
          "t25"."m1",
          "t25"."m2",
          "t25"."d_channel"
        FROM (
          SELECT
            "t1"."user_id",
            "t1"."anonymous_id",
            "t1"."source",
            COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") AS "ts",
            (
              "t1"."event" = 'Product Viewed'
            )
            AND COALESCE(
              CASE
                WHEN JSON_TYPE(CAST("t1"."properties" AS JSON) -> '$.price') IN ('UBIGINT', 'BIGINT', 'DOUBLE')
                THEN CAST(CAST("t1"."properties" AS JSON) -> '$.price' AS DOUBLE)
                ELSE NULL
              END >= 100.0,
              FALSE
            ) AS "m0",
            "t1"."event" = 'Product Added' AS "m1",
            FALSE AS "m2",
            "t1"."channel" AS "d_channel"
          FROM "events" AS "t1"
          WHERE
            COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") >= MAKE_TIMESTAMP(2026, 3, 2, 0, 0, 0.0)
            AND COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") < MAKE_TIMESTAMP(2026, 4, 8, 0, 0, 0.0)
            AND (
              (
                (
                  "t1"."event" = 'Product Viewed'
                )
                AND COALESCE(
                  CASE
                    WHEN JSON_TYPE(CAST("t1"."properties" AS JSON) -> '$.price') IN ('UBIGINT', 'BIGINT', 'DOUBLE')
                    THEN CAST(CAST("t1"."properties" AS JSON) -> '$.price' AS DOUBLE)
                    ELSE NULL
                  END >= 100.0,
                  FALSE
                )
              )
              OR (
                "t1"."event" = 'Product Added'
              )
              OR FALSE
            )
        ) AS "t25"
        LEFT OUTER JOIN (
          SELECT
            "t18"."id_type" AS "u_type",
            "t18"."id_value" AS "u_value",
            "t18"."profile_id" AS "u_profile"
          FROM "t16" AS "t18"
          WHERE
            "t18"."id_type" IN ('marketplace_buyer_id', 'user_id')
        ) AS "t27"
          ON CASE
            WHEN "t25"."source" = 'tmall'
            THEN 'marketplace_buyer_id'
            ELSE CASE WHEN "t25"."source" = 'jd' THEN 'marketplace_buyer_id' ELSE 'user_id' END
          END = "t27"."u_type"
          AND "t25"."user_id" = "t27"."u_value"
        LEFT OUTER JOIN (
          SELECT
            "t18"."id_type" AS "a_type",
            "t18"."id_value" AS "a_value",
            "t18"."profile_id" AS "a_profile"
          FROM "t16" AS "t18"
          WHERE
            "t18"."id_type" IN ('anonymous_id', 'wechat_openid')
        ) AS "t28"
          ON CASE WHEN "t25"."source" = 'wechat' THEN 'wechat_openid' ELSE 'anonymous_id' END = "t28"."a_type"
          AND "t25"."anonymous_id" = "t28"."a_value"
      ) AS "t33"
      WHERE
        "t33"."person" IS NOT NULL AND "t33"."ts" IS NOT NULL
    ) AS "t36"
    UNION ALL
    SELECT
      *
    FROM (
      SELECT
        *
      FROM (
        SELECT
          COALESCE("t9"."r_profile", 'user_id:' || "t34"."user_id") AS "person",
          "t34"."ordered_at" AS "ts",
          "t34"."m0",
          "t34"."m1",
          "t34"."m2",
          "t34"."channel" AS "d_channel"
        FROM (
          SELECT
            "t29"."order_id",
            "t29"."source",
            "t29"."channel",
            "t29"."store_id",
            "t29"."customer_record_id",
            "t29"."user_id",
            "t29"."anonymous_id",
            "t29"."ordered_at",
            "t29"."status",
            "t29"."currency",
            "t29"."subtotal",
            "t29"."discount",
            "t29"."tax",
            "t29"."shipping",
            "t29"."total",
            "t29"."campaign_id",
            "t29"."coupon",
            "t29"."fulfilment",
            "t29"."attributes",
            "t29"."updated_at",
            "t29"."loaded_at",
            "t29"."cid",
            "t29"."cname",
            FALSE AS "m0",
            FALSE AS "m1",
            TRUE AND LOWER("t29"."channel") IN ('store') AS "m2"
          FROM (
            SELECT
              "t19"."order_id",
              "t19"."source",
              "t19"."channel",
              "t19"."store_id",
              "t19"."customer_record_id",
              "t19"."user_id",
              "t19"."anonymous_id",
              "t19"."ordered_at",
              "t19"."status",
              "t19"."currency",
              "t19"."subtotal",
              "t19"."discount",
              "t19"."tax",
              "t19"."shipping",
              "t19"."total",
              "t19"."campaign_id",
              "t19"."coupon",
              "t19"."fulfilment",
              "t19"."attributes",
              "t19"."updated_at",
              "t19"."loaded_at",
              "t14"."cid",
              "t14"."cname"
            FROM (
              SELECT
                *
              FROM "orders" AS "t6"
              WHERE
                NOT (
                  LOWER(COALESCE("t6"."status", '')) IN ('cancelled', 'canceled', 'refunded', 'failed', 'voided')
                )
                AND "t6"."ordered_at" IS NOT NULL
                AND "t6"."ordered_at" >= MAKE_TIMESTAMP(2026, 3, 2, 0, 0, 0.0)
                AND "t6"."ordered_at" < MAKE_TIMESTAMP(2026, 4, 8, 0, 0, 0.0)
            ) AS "t19"
            LEFT OUTER JOIN (
              SELECT
                "t4"."campaign_id" AS "cid",
                MIN("t4"."name") AS "cname"
              FROM "campaigns" AS "t4"
              GROUP BY
                1
            ) AS "t14"
              ON "t19"."campaign_id" = "t14"."cid"
          ) AS "t29"
          WHERE
            FALSE OR FALSE OR (
              TRUE AND LOWER("t29"."channel") IN ('store')
            )
        ) AS "t34"
        LEFT OUTER JOIN (
          SELECT
            "t2"."source" AS "r_source",
            "t2"."record_id" AS "r_id",
            "t2"."profile_id" AS "r_profile"
          FROM "record_profiles" AS "t2"
        ) AS "t9"
          ON "t34"."source" = "t9"."r_source" AND "t34"."order_id" = "t9"."r_id"
      ) AS "t38"
      WHERE
        "t38"."person" IS NOT NULL
    ) AS "t39"
  ) AS "t40"
)
SELECT
  "t56"."_all",
  "t56"."d_channel",
  "t56"."d_segment_vip",
  COUNT("t56"."t0") AS "entered_0",
  COUNT("t56"."t1") AS "entered_1",
  QUANTILE_CONT(
    CAST(EPOCH(CAST("t56"."t1" AS TIMESTAMP)) - EPOCH(CAST("t56"."t0" AS TIMESTAMP)) AS DOUBLE),
    0.5
  ) AS "median_1",
  QUANTILE_CONT(
    CAST(EPOCH(CAST("t56"."t1" AS TIMESTAMP)) - EPOCH(CAST("t56"."t0" AS TIMESTAMP)) AS DOUBLE),
    0.9
  ) AS "p90_1",
  COUNT("t56"."t2") AS "entered_2",
  QUANTILE_CONT(
    CAST(EPOCH(CAST("t56"."t2" AS TIMESTAMP)) - EPOCH(CAST("t56"."t1" AS TIMESTAMP)) AS DOUBLE),
    0.5
  ) AS "median_2",
  QUANTILE_CONT(
    CAST(EPOCH(CAST("t56"."t2" AS TIMESTAMP)) - EPOCH(CAST("t56"."t1" AS TIMESTAMP)) AS DOUBLE),
    0.9
  ) AS "p90_2"
FROM (
  SELECT
    "t55"."person",
    CASE WHEN "t55"."_all" THEN CAST(NULL AS TEXT) ELSE "t55"."d_channel" END AS "d_channel",
    "t55"."t0",
    "t55"."t1",
    "t55"."t2",
    CASE WHEN "t55"."_all" THEN CAST(NULL AS TEXT) ELSE "t55"."d_segment_vip" END AS "d_segment_vip",
    "t55"."_all"
  FROM (
    SELECT
      "t54"."person",
      "t54"."d_channel",
      "t54"."t0",
      "t54"."t1",
      "t54"."t2",
      "t54"."d_segment_vip",
      UNNEST(CAST([TRUE, FALSE] AS BOOLEAN[])) AS "_all"
    FROM (
      SELECT
        "t53".*
        EXCLUDE ("member")
      FROM (
        SELECT
          "t52"."person",
          "t52"."d_channel",
          "t52"."t0",
          "t52"."t1",
          "t52"."t2",
          "t52"."member",
          CASE WHEN "t52"."member" IS NOT NULL THEN 'vip' ELSE 'not vip' END AS "d_segment_vip"
        FROM (
          SELECT
            "t51"."person",
            "t51"."d_channel",
            "t51"."t0",
            "t51"."t1",
            "t51"."t2",
            "t12"."member"
          FROM (
            SELECT
              "t49"."e_person" AS "person",
              "t49"."d_channel",
              CASE
                WHEN CASE
                  WHEN "t49"."f0" IS NOT NULL
                  THEN CAST(COALESCE(
                    (
                      "t49"."f0" < "t49"."f0"
                    ) OR (
                      (
                        "t49"."f0" = "t49"."f0"
                      ) AND TRUE
                    ),
                    FALSE
                  ) AS INT) + CAST(COALESCE(
                    (
                      "t49"."f1" < "t49"."f0"
                    )
                    OR (
                      (
                        "t49"."f1" = "t49"."f0"
                      ) AND FALSE
                    ),
                    FALSE
                  ) AS INT) + CAST(COALESCE(
                    (
                      "t49"."f2" < "t49"."f0"
                    )
                    OR (
                      (
                        "t49"."f2" = "t49"."f0"
                      ) AND FALSE
                    ),
                    FALSE
                  ) AS INT)
                  ELSE CAST(NULL AS INT)
                END = 1
                THEN "t49"."f0"
                WHEN CASE
                  WHEN "t49"."f1" IS NOT NULL
                  THEN CAST(COALESCE(
                    (
                      "t49"."f0" < "t49"."f1"
                    ) OR (
                      (
                        "t49"."f0" = "t49"."f1"
                      ) AND TRUE
                    ),
                    FALSE
                  ) AS INT) + CAST(COALESCE(
                    (
                      "t49"."f1" < "t49"."f1"
                    ) OR (
                      (
                        "t49"."f1" = "t49"."f1"
                      ) AND TRUE
                    ),
                    FALSE
                  ) AS INT) + CAST(COALESCE(
                    (
                      "t49"."f2" < "t49"."f1"
                    )
                    OR (
                      (
                        "t49"."f2" = "t49"."f1"
                      ) AND FALSE
                    ),
                    FALSE
                  ) AS INT)
                  ELSE CAST(NULL AS INT)
                END = 1
                THEN "t49"."f1"
                WHEN CASE
                  WHEN "t49"."f2" IS NOT NULL
                  THEN CAST(COALESCE(
                    (
                      "t49"."f0" < "t49"."f2"
                    ) OR (
                      (
                        "t49"."f0" = "t49"."f2"
                      ) AND TRUE
                    ),
                    FALSE
                  ) AS INT) + CAST(COALESCE(
                    (
                      "t49"."f1" < "t49"."f2"
                    ) OR (
                      (
                        "t49"."f1" = "t49"."f2"
                      ) AND TRUE
                    ),
                    FALSE
                  ) AS INT) + CAST(COALESCE(
                    (
                      "t49"."f2" < "t49"."f2"
                    ) OR (
                      (
                        "t49"."f2" = "t49"."f2"
                      ) AND TRUE
                    ),
                    FALSE
                  ) AS INT)
                  ELSE CAST(NULL AS INT)
                END = 1
                THEN "t49"."f2"
                ELSE CAST(NULL AS TIMESTAMP)
              END AS "t0",
              CASE
                WHEN CASE
                  WHEN "t49"."f0" IS NOT NULL
                  THEN CAST(COALESCE(
                    (
                      "t49"."f0" < "t49"."f0"
                    ) OR (
                      (
                        "t49"."f0" = "t49"."f0"
                      ) AND TRUE
                    ),
                    FALSE
                  ) AS INT) + CAST(COALESCE(
                    (
                      "t49"."f1" < "t49"."f0"
                    )
                    OR (
                      (
                        "t49"."f1" = "t49"."f0"
                      ) AND FALSE
                    ),
                    FALSE
                  ) AS INT) + CAST(COALESCE(
                    (
                      "t49"."f2" < "t49"."f0"
                    )
                    OR (
                      (
                        "t49"."f2" = "t49"."f0"
                      ) AND FALSE
                    ),
                    FALSE
                  ) AS INT)
                  ELSE CAST(NULL AS INT)
                END = 2
                THEN "t49"."f0"
                WHEN CASE
                  WHEN "t49"."f1" IS NOT NULL
                  THEN CAST(COALESCE(
                    (
                      "t49"."f0" < "t49"."f1"
                    ) OR (
                      (
                        "t49"."f0" = "t49"."f1"
                      ) AND TRUE
                    ),
                    FALSE
                  ) AS INT) + CAST(COALESCE(
                    (
                      "t49"."f1" < "t49"."f1"
                    ) OR (
                      (
                        "t49"."f1" = "t49"."f1"
                      ) AND TRUE
                    ),
                    FALSE
                  ) AS INT) + CAST(COALESCE(
                    (
                      "t49"."f2" < "t49"."f1"
                    )
                    OR (
                      (
                        "t49"."f2" = "t49"."f1"
                      ) AND FALSE
                    ),
                    FALSE
                  ) AS INT)
                  ELSE CAST(NULL AS INT)
                END = 2
                THEN "t49"."f1"
                WHEN CASE
                  WHEN "t49"."f2" IS NOT NULL
                  THEN CAST(COALESCE(
                    (
                      "t49"."f0" < "t49"."f2"
                    ) OR (
                      (
                        "t49"."f0" = "t49"."f2"
                      ) AND TRUE
                    ),
                    FALSE
                  ) AS INT) + CAST(COALESCE(
                    (
                      "t49"."f1" < "t49"."f2"
                    ) OR (
                      (
                        "t49"."f1" = "t49"."f2"
                      ) AND TRUE
                    ),
                    FALSE
                  ) AS INT) + CAST(COALESCE(
                    (
                      "t49"."f2" < "t49"."f2"
                    ) OR (
                      (
                        "t49"."f2" = "t49"."f2"
                      ) AND TRUE
                    ),
                    FALSE
                  ) AS INT)
                  ELSE CAST(NULL AS INT)
                END = 2
                THEN "t49"."f2"
                ELSE CAST(NULL AS TIMESTAMP)
              END AS "t1",
              CASE
                WHEN CASE
                  WHEN "t49"."f0" IS NOT NULL
                  THEN CAST(COALESCE(
                    (
                      "t49"."f0" < "t49"."f0"
                    ) OR (
                      (
                        "t49"."f0" = "t49"."f0"
                      ) AND TRUE
                    ),
                    FALSE
                  ) AS INT) + CAST(COALESCE(
                    (
                      "t49"."f1" < "t49"."f0"
                    )
                    OR (
                      (
                        "t49"."f1" = "t49"."f0"
                      ) AND FALSE
                    ),
                    FALSE
                  ) AS INT) + CAST(COALESCE(
                    (
                      "t49"."f2" < "t49"."f0"
                    )
                    OR (
                      (
                        "t49"."f2" = "t49"."f0"
                      ) AND FALSE
                    ),
                    FALSE
                  ) AS INT)
                  ELSE CAST(NULL AS INT)
                END = 3
                THEN "t49"."f0"
                WHEN CASE
                  WHEN "t49"."f1" IS NOT NULL
                  THEN CAST(COALESCE(
                    (
                      "t49"."f0" < "t49"."f1"
                    ) OR (
                      (
                        "t49"."f0" = "t49"."f1"
                      ) AND TRUE
                    ),
                    FALSE
                  ) AS INT) + CAST(COALESCE(
                    (
                      "t49"."f1" < "t49"."f1"
                    ) OR (
                      (
                        "t49"."f1" = "t49"."f1"
                      ) AND TRUE
                    ),
                    FALSE
                  ) AS INT) + CAST(COALESCE(
                    (
                      "t49"."f2" < "t49"."f1"
                    )
                    OR (
                      (
                        "t49"."f2" = "t49"."f1"
                      ) AND FALSE
                    ),
                    FALSE
                  ) AS INT)
                  ELSE CAST(NULL AS INT)
                END = 3
                THEN "t49"."f1"
                WHEN CASE
                  WHEN "t49"."f2" IS NOT NULL
                  THEN CAST(COALESCE(
                    (
                      "t49"."f0" < "t49"."f2"
                    ) OR (
                      (
                        "t49"."f0" = "t49"."f2"
                      ) AND TRUE
                    ),
                    FALSE
                  ) AS INT) + CAST(COALESCE(
                    (
                      "t49"."f1" < "t49"."f2"
                    ) OR (
                      (
                        "t49"."f1" = "t49"."f2"
                      ) AND TRUE
                    ),
                    FALSE
                  ) AS INT) + CAST(COALESCE(
                    (
                      "t49"."f2" < "t49"."f2"
                    ) OR (
                      (
                        "t49"."f2" = "t49"."f2"
                      ) AND TRUE
                    ),
                    FALSE
                  ) AS INT)
                  ELSE CAST(NULL AS INT)
                END = 3
                THEN "t49"."f2"
                ELSE CAST(NULL AS TIMESTAMP)
              END AS "t2"
            FROM (
              SELECT
                "t48"."e_person",
                MIN("t48"."d_channel") FILTER(WHERE
                  (
                    "t48"."ts" = "t48"."t0"
                  ) AND (
                    "t48"."m0" OR "t48"."m1" OR "t48"."m2"
                  )) AS "d_channel",
                MIN("t48"."ts") FILTER(WHERE
                  "t48"."m0") AS "f0",
                MIN("t48"."ts") FILTER(WHERE
                  "t48"."m1") AS "f1",
                MIN("t48"."ts") FILTER(WHERE
                  "t48"."m2") AS "f2"
              FROM (
                SELECT
                  *
                FROM (
                  SELECT
                    "t43"."person",
                    "t43"."ts",
                    "t43"."m0",
                    "t43"."m1",
                    "t43"."m2",
                    "t43"."d_channel",
                    "t46"."e_person",
                    "t46"."t0"
                  FROM "t41" AS "t43"
                  INNER JOIN (
                    SELECT
                      "t44"."person" AS "e_person",
                      MIN("t44"."ts") AS "t0"
                    FROM (
                      SELECT
                        *
                      FROM "t41" AS "t42"
                      WHERE
                        (
                          "t42"."m0" OR "t42"."m1" OR "t42"."m2"
                        )
                        AND TRUE
                        AND "t42"."ts" >= MAKE_TIMESTAMP(2026, 3, 2, 0, 0, 0.0)
                        AND "t42"."ts" < MAKE_TIMESTAMP(2026, 4, 1, 0, 0, 0.0)
                    ) AS "t44"
                    GROUP BY
                      1
                  ) AS "t46"
                    ON "t43"."person" = "t46"."e_person"
                ) AS "t47"
                WHERE
                  "t47"."ts" >= "t47"."t0"
                  AND "t47"."ts" <= (
                    "t47"."t0" + INTERVAL '604800' SECOND
                  )
              ) AS "t48"
              GROUP BY
                1
            ) AS "t49"
          ) AS "t51"
          LEFT OUTER JOIN (
            SELECT DISTINCT
              "t0"."profile_id" AS "member"
            FROM "segment_memberships" AS "t0"
            WHERE
              "t0"."segment" = 'vip' AND "t0"."exited_at" IS NULL
          ) AS "t12"
            ON "t51"."person" = "t12"."member"
        ) AS "t52"
      ) AS "t53"
    ) AS "t54"
  ) AS "t55"
) AS "t56"
GROUP BY
  1,
  2,
  3
